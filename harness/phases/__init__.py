"""The phases of a run, each turning a component's output into a frozen outcome
(:mod:`harness.record`) that it records in the run: tests, load, chaos, the watch
that probes the target beside them for the whole run, and the sampler of its resources."""

from harness.phases.api_coverage_phase import check_openapi_file, recorded
from harness.phases.chaos_phase import check_chaos_experiments, run_chaos_phase
from harness.phases.fuzz_phase import check_fuzz_settings, fuzz_off, run_fuzz
from harness.phases.load_phase import run_load_phase
from harness.phases.resources_phase import sampled
from harness.phases.security_phase import check_security_reports, scan_security, security_off
from harness.phases.tests_phase import run_tests_phase
from harness.phases.watch_phase import watched

__all__ = [
    "check_openapi_file",
    "recorded",
    "check_chaos_experiments",
    "run_chaos_phase",
    "run_load_phase",
    "run_tests_phase",
    "sampled",
    "check_security_reports",
    "scan_security",
    "security_off",
    "check_fuzz_settings",
    "fuzz_off",
    "run_fuzz",
    "watched",
]
