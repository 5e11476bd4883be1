"""pytest orchestration: workers, repeats, watchdog, per-test records."""

from harness.runner.records import RunRecord, TestRecord, aggregate, read_records
from harness.runner.session import Progress, RunSpec, TestPhaseResult, run_tests

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
