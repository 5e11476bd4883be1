"""Load during a chaos experiment, and its error rate while the fault was on.

The load runs (Locust, :func:`harness.load.start_load`) against the URL the probes hit for
the whole injection window: steady -> fault -> recovery. Its per-second timeline is counted
from the second its first request left, which this process cannot place on its own clock,
so the fault-window figures come from the progress snapshots the load child sends about
once a second (cumulative completed requests and failures), stamped on arrival: the window
is widened to the enclosing snapshots, ending ``request_timeout_s`` after the fault so that
requests sent under the fault and failing by timeout are counted. Without snapshots around
every window the check falls back to the whole run, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.chaos.experiment import Experiment
from harness.errors import LoadGeneratorError
from harness.load import LoadHandle, LoadResult, LoadSpec, RequestSpec, start_load

__all__ = ["FaultLoad", "FaultLoadResult", "LoadSnapshot", "WindowRate", "fault_window_rate"]

FIRST_REQUEST_DEADLINE_S = 30.0  # Locust imports and spawns users in ~2 s on a busy machine
STOP_WAIT_S = 30.0  # the driver ends its children within its own stop grace (10 s)
SNAPSHOT_WAIT_S = 3.0  # progress lines come about once a second; allow for a busy machine


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    t_s: float  # experiment clock when the snapshot arrived
    requests: int
    failures: int


@dataclass(frozen=True, slots=True)
class WindowRate:
    requests: int
    failures: int
    window: str  # "fault" or "whole run"
    detail: str

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class FaultLoadResult:
    """The load of one experiment: Locust's result, and the error rate while the fault was
    on against the experiment's budget (``max_error_rate``)."""

    result: LoadResult
    fault_window: WindowRate
    max_error_rate: float

    @property
    def within_budget(self) -> bool:
        """The fault-window error rate kept within budget (never with no request counted)."""
        w = self.fault_window
        return w.requests > 0 and w.error_rate <= self.max_error_rate

    def to_json(self) -> dict[str, object]:
        r, w = self.result, self.fault_window
        return {
            "requests": r.requests,
            "failures": r.failures,
            "error_rate": r.error_rate,
            "rps": r.rps,
            "intended_rate_rps": r.intended_rate_rps,
            "users": r.users,
            "latency_ms": {k: r.latency_ms[k] for k in ("p50", "p95", "p99", "max")},
            "errors": dict(r.errors),
            "fault_window": {
                "window": w.window,
                "requests": w.requests,
                "failures": w.failures,
                "error_rate": w.error_rate,
                "detail": w.detail,
            },
            "max_error_rate": self.max_error_rate,
            "within_budget": self.within_budget,
        }


def fault_window_rate(
    snapshots: Sequence[LoadSnapshot],
    windows: Sequence[tuple[float, float]],
    *,
    tail_s: float,
    whole: tuple[int, int],
) -> WindowRate:
    """Requests and failures completed around each fault window, summed over windows.

    Pure. For each ``(start, end)`` window: the counts at the last snapshot at or before
    ``start`` (zero before the first) up to the first snapshot at or after ``end + tail_s``.
    ``whole`` is ``(requests, failures)`` of the whole run, used when a window has no
    closing snapshot.
    """
    ordered = sorted(snapshots, key=lambda s: s.t_s)
    requests = failures = 0
    for start, end in windows:
        before = [s for s in ordered if s.t_s <= start]
        after = [s for s in ordered if s.t_s >= end + tail_s]
        if not after:
            return WindowRate(
                whole[0],
                whole[1],
                "whole run",
                f"no load snapshot {tail_s:.1f} s after the fault at {end:.2f} s: "
                "error rate over the whole load run",
            )
        a = before[-1] if before else LoadSnapshot(start, 0, 0)
        b = after[0]
        requests += b.requests - a.requests
        failures += b.failures - a.failures
    return WindowRate(
        requests,
        failures,
        "fault",
        f"requests completed from the snapshot before each injection to the first one "
        f"{tail_s:.1f} s after its fault ended ({len(windows)} window(s))",
    )


class FaultLoad:
    """Locust against ``url`` for one experiment; :meth:`finish` stops it and reports."""

    def __init__(
        self, experiment: Experiment, url: str, bound_s: float, clock: Callable[[], float]
    ) -> None:
        ss = experiment.steady_state
        self.experiment = experiment
        self.spec = LoadSpec(
            target_url=url,
            requests=(RequestSpec(path=ss.path, expect_status=tuple(ss.expect_status)),),
            rate_rps=experiment.load.rate_rps,
            users=experiment.load.users,
            duration_s=bound_s,
            request_timeout_s=ss.probe_timeout_s,
        )
        self.snapshots: list[LoadSnapshot] = []
        self._clock = clock  # the experiment's clock (seconds since it started)
        self._handle: LoadHandle | None = None

    def start(self) -> None:
        """Start the load and return once its first request completed."""
        handle = start_load(self.spec)
        end = time.monotonic() + FIRST_REQUEST_DEADLINE_S
        while time.monotonic() < end:
            progress = handle.latest_progress
            if progress is not None and progress.requests > 0:
                self._handle = handle
                return
            if handle.done():
                handle.wait(0)  # raises the load's own error
                break
            time.sleep(0.05)  # polling interval, bounded by the deadline
        handle.stop()
        handle.wait(STOP_WAIT_S)
        raise LoadGeneratorError(
            f"load for {self.experiment.name}: no request completed within "
            f"{FIRST_REQUEST_DEADLINE_S} s against {self.spec.target_url}"
        )

    @property
    def started(self) -> bool:
        """True once the load sent its first request (and :meth:`finish` has work to do)."""
        return self._handle is not None

    def observe(self, t_s: float | None = None) -> None:
        """Record the latest progress snapshot when it changed (called at every probe)."""
        t_s = self._clock() if t_s is None else t_s
        progress = self._handle.latest_progress if self._handle else None
        if progress is None:
            return
        last = self.snapshots[-1] if self.snapshots else None
        if last is None or (last.requests, last.failures) != (progress.requests, progress.failures):
            self.snapshots.append(LoadSnapshot(t_s, progress.requests, progress.failures))

    def finish(self, windows: Sequence[tuple[float, float]]) -> FaultLoadResult:
        """Stop the load; its result, the fault-window error rate and the budget check."""
        if self._handle is None:
            raise LoadGeneratorError(f"load for {self.experiment.name} was never started")
        # keep loading until a snapshot closes the last window (snapshots come about 1/s)
        if windows:
            close_at = max(end for _, end in windows) + self.spec.request_timeout_s
            deadline = time.monotonic() + max(0.0, close_at - self._clock()) + SNAPSHOT_WAIT_S
            while time.monotonic() < deadline and not self._handle.done():
                self.observe()
                if self.snapshots and self.snapshots[-1].t_s >= close_at:
                    break
                time.sleep(0.05)  # polling interval, bounded by the deadline
        self._handle.stop()
        result: LoadResult = self._handle.wait(self.spec.duration_s + 120.0)
        rate = fault_window_rate(
            self.snapshots,
            windows,
            tail_s=self.spec.request_timeout_s,
            whole=(result.requests, result.failures),
        )
        return FaultLoadResult(result, rate, self.experiment.expect.max_error_rate)
