"""The load phase: Locust in a child process, open-model pacing, HdrHistogram latency.

Nothing imported here loads ssl or Locust, so ``python -m harness.load.worker`` can import
Locust (which monkey-patches the standard library with gevent) before anything else.
"""

from harness.load.driver import LoadHandle, run_load, start_load
from harness.load.load_file import load_load_spec
from harness.load.result import LoadProgress, LoadResult, TimelinePoint
from harness.load.spec import LoadSpec, RequestSpec

__all__ = [
    "LoadHandle",
    "LoadProgress",
    "LoadResult",
    "LoadSpec",
    "RequestSpec",
    "TimelinePoint",
    "load_load_spec",
    "run_load",
    "start_load",
]
