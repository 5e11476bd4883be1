"""pytest orchestration: workers, repeats, watchdog, per-test records."""

from harness.runner.pytest_runs import Progress, RunSpec, TestPhaseResult, run_tests
from harness.runner.records import RunRecord, TestRecord, aggregate, read_records

__all__ = [
    "Progress",
    "RunRecord",
    "RunSpec",
    "TestPhaseResult",
    "TestRecord",
    "aggregate",
    "read_records",
    "run_tests",
]
