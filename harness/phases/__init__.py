"""The phases of a run, each turning a component's output into a frozen outcome
(:mod:`harness.record`) that it records in the run: tests, load, chaos, the watch
that probes the target beside them for the whole run, and the sampler of its resources.

Each name is imported from its phase's module when first used (PEP 562): ``run`` needs the
tests phase only, and the others pull in scipy, Locust's driver, Toxiproxy and schemathesis
support, which would add their import time to every start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.phases.api_coverage_phase import check_openapi_file, recorded
    from harness.phases.chaos_phase import check_chaos_experiments, run_chaos_phase
    from harness.phases.fuzz_phase import check_fuzz_settings, fuzz_off, run_fuzz
    from harness.phases.load_phase import run_load_phase
    from harness.phases.resources_phase import sampled
    from harness.phases.security_phase import (
        check_security_reports,
        scan_security,
        security_off,
    )
    from harness.phases.tests_phase import run_tests_phase
    from harness.phases.watch_phase import watched

_WHERE = {
    "check_openapi_file": "api_coverage_phase",
    "recorded": "api_coverage_phase",
    "check_chaos_experiments": "chaos_phase",
    "run_chaos_phase": "chaos_phase",
    "check_fuzz_settings": "fuzz_phase",
    "fuzz_off": "fuzz_phase",
    "run_fuzz": "fuzz_phase",
    "run_load_phase": "load_phase",
    "sampled": "resources_phase",
    "check_security_reports": "security_phase",
    "scan_security": "security_phase",
    "security_off": "security_phase",
    "run_tests_phase": "tests_phase",
    "watched": "watch_phase",
}

__all__ = [
    "check_chaos_experiments",
    "check_fuzz_settings",
    "check_openapi_file",
    "check_security_reports",
    "fuzz_off",
    "recorded",
    "run_chaos_phase",
    "run_fuzz",
    "run_load_phase",
    "run_tests_phase",
    "sampled",
    "scan_security",
    "security_off",
    "watched",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
