"""What a load run measured: :class:`LoadResult`, built by adding per-process reports.

Each load process (the single local one, or every Locust worker) hands back a
*process report*: counts, an encoded HdrHistogram, error messages and a per-second
timeline whose seconds are counted from one shared epoch. :func:`merge_reports` adds
them: counts summed, histograms added bucket by bucket, percentiles read from the sum.
Pure code: no clocks, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.load.histogram import (
    TIMELINE_DIGITS,
    encode_histogram,
    merge_encoded,
    new_histogram,
    summarize_ms,
)
from harness.load.spec import Stage

__all__ = [
    "StoppedEarly",
    "SuccessProof",
    "DROPPED",
    "LoadProgress",
    "LoadResult",
    "RequestStats",
    "TimelinePoint",
    "merge_reports",
]

# An open-model request due while max_in_flight requests are already out: never delayed
# (that would hide the server's slowness), counted as dropped and as failed.
DROPPED = "dropped: not started on schedule, max_in_flight requests were already in flight"


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Requests completed during second ``t_s`` of the run (counted from its start)."""

    t_s: int
    requests: int
    failures: int
    p95_ms: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "t_s": self.t_s,
            "requests": self.requests,
            "failures": self.failures,
            "p95_ms": self.p95_ms,
        }


@dataclass(frozen=True, slots=True)
class RequestStats:
    """One request of the mix (by its name): its counts and latency, from its own
    merged HdrHistogram, so a slow endpoint is not averaged into a fast one."""

    name: str
    requests: int
    failures: int
    latency_ms: dict[str, float]
    histogram: str
    dropped: int = 0  # open model: due, never started (max_in_flight); in failures too

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "failures": self.failures,
            "dropped": self.dropped,
            "error_rate": self.failures / self.requests if self.requests else 0.0,
            "latency_ms": dict(self.latency_ms),
            "histogram_encoded": self.histogram,
        }


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """A snapshot sent to the progress callback about once a second."""

    elapsed_s: float
    duration_s: float
    requests: int
    failures: int
    dropped: int = 0
    # with LoadSpec.live_progress: the merged histogram so far (encoded), and per request
    # name (name, requests, failures, encoded histogram)
    histogram: str | None = None
    by_request: tuple[tuple[str, int, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StoppedEarly:
    """Why a load ended before its plan, and when (seconds after it started): a gate marked
    abort_on_fail that failed while it ran (``by="abort_on_fail"``), or a stopping rule
    (``by="nines"``: the success bound proven, or made impossible within the budget)."""

    at_s: float
    reason: str
    by: str

    def to_json(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "reason": self.reason, "by": self.by}


@dataclass(frozen=True, slots=True)
class SuccessProof:
    """A claim of request success, ``target`` or better, on this load's requests: the
    one-sided 95% Clopper-Pearson lower bound of successes/requests against it.
    ``outcome``: ``proven`` (the bound reached it), ``impossible`` (even if every request
    left in the ``budget`` succeeded, it could not), or ``not shown`` (the run ended first);
    ``requests_needed``: further clean requests that would show it (None once decided)."""

    target: float
    requests: int
    failures: int
    duration_s: float
    lower_bound: float
    outcome: str
    budget: int | None
    requests_needed: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "requests": self.requests,
            "failures": self.failures,
            "duration_s": self.duration_s,
            "lower_bound": self.lower_bound,
            "method": "clopper-pearson",
            "confidence": 0.95,
            "outcome": self.outcome,
            "budget": self.budget,
            "requests_needed": self.requests_needed,
        }


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The outcome of one load run; latency figures come from the merged HdrHistogram."""

    requests: int
    failures: int
    duration_s: float
    rps: float
    latency_ms: dict[str, float]
    histogram: str
    errors: dict[str, int]
    timeline: tuple[TimelinePoint, ...]
    intended_rate_rps: float
    users: int
    model: str
    processes: int = 1
    samples: int = 0
    interrupted: bool = False
    by_request: tuple[RequestStats, ...] = ()
    # open model: requests due while max_in_flight were out, never started; they are in
    # ``requests`` and ``failures`` too (an error-rate gate counts them), not in latency
    dropped: int = 0
    max_in_flight: int | None = None  # open model only
    stages: tuple[Stage, ...] = ()  # the load's shape, when it had one
    stopped_early: StoppedEarly | None = None
    proof: SuccessProof | None = None  # with load.prove_success (the nines profile)
    # exceptions raised by a locustfile's own code (on_start, a task), each also in errors
    user_errors: int = 0
    locustfile: str | None = None  # the user's locustfile that ran, if one did
    # with Locust workers: how many were to take part (``processes`` sent their report)
    workers_expected: int = 0
    # where the master listened for workers started elsewhere (load-worker), if it did
    master_bind: str | None = None
    # a locustfile's users with constant_pacing / constant_throughput: their latency is
    # from each task's intended start (the others': from the actual send)
    paced_users: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        """failures / requests (0.0 when nothing was sent)."""
        return self.failures / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        """The report.json ``load`` object (DESIGN.md) plus the extras."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": self.error_rate,
            "rps": self.rps,
            "duration_s": self.duration_s,
            "latency_ms": dict(self.latency_ms),
            "samples": self.samples,
            "errors": dict(self.errors),
            "timeline": [p.to_json() for p in self.timeline],
            "intended_rate_rps": self.intended_rate_rps,
            "users": self.users,
            "processes": self.processes,
            "model": self.model,
            "interrupted": self.interrupted,
            "latency_measured_from": "intended send time"
            if self.model == "open"
            else "actual send time",
            "histogram": self.histogram,
            "histogram_unit": "us",
        } | self._extras()

    def _extras(self) -> dict[str, Any]:
        # (fields a run recorded before they existed does not have: its report stays as is)
        out: dict[str, Any] = {}
        if self.max_in_flight is not None:  # the open model: its cap and what it dropped
            out |= {"max_in_flight": self.max_in_flight, "dropped": self.dropped}
        if self.stopped_early is not None:
            out["stopped_early"] = self.stopped_early.to_json()
        if self.proof is not None:
            out["proof"] = self.proof.to_json()
        if self.stages:
            out["stages"] = [stage.to_json() for stage in self.stages]
        if self.locustfile or self.user_errors:
            out |= {
                "locustfile": self.locustfile,
                "user_errors": self.user_errors,
                "paced_users": list(self.paced_users),
                "latency_measured_from": _measured_from(self.paced_users),
            }
        if self.workers_expected:
            out["workers"] = {"expected": self.workers_expected, "finished": self.processes}
        if self.master_bind is not None:
            out["master_bind"] = self.master_bind
        if self.by_request:
            out["by_request"] = [r.to_json() for r in self.by_request]
        return out


def _measured_from(paced_users: tuple[str, ...]) -> str:
    if not paced_users:
        return "actual send time"
    return (
        f"intended send time for the paced users ({', '.join(paced_users)}: each task "
        "from its intended start), actual send time for the others"
    )


def merge_reports(
    reports: Iterable[Mapping[str, Any]],
    *,
    intended_rate_rps: float,
    users: int,
    model: str,
    interrupted: bool = False,
    max_in_flight: int | None = None,
) -> LoadResult:
    """Add per-process reports into one :class:`LoadResult`.

    A report is the JSON a load process writes: ``requests``, ``failures``, ``histogram``,
    ``errors``, ``timeline`` (``t_s``, ``requests``, ``failures``, ``histogram``),
    ``first_send_s`` and ``last_done_s`` (seconds from the shared epoch, or None).
    """
    reports = list(reports)
    merged = merge_encoded(str(r["histogram"]) for r in reports)
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update({str(k): int(v) for k, v in r["errors"].items()})
    requests = sum(int(r["requests"]) for r in reports)
    failures = sum(int(r["failures"]) for r in reports)

    starts = [float(r["first_send_s"]) for r in reports if r.get("first_send_s") is not None]
    ends = [float(r["last_done_s"]) for r in reports if r.get("last_done_s") is not None]
    duration_s = max(0.0, max(ends) - min(starts)) if starts and ends else 0.0
    rps = requests / duration_s if duration_s > 0 else 0.0

    return LoadResult(
        requests=requests,
        failures=failures,
        duration_s=duration_s,
        rps=rps,
        latency_ms=summarize_ms(merged),
        histogram=encode_histogram(merged),
        errors=dict(errors.most_common()),
        timeline=_merge_timelines(reports, int(min(starts)) if starts else 0),
        intended_rate_rps=intended_rate_rps,
        users=users,
        model=model,
        processes=len(reports),
        samples=int(merged.get_total_count()),
        interrupted=interrupted,
        by_request=_merge_by_request(reports),
        dropped=sum(int(r.get("dropped", 0)) for r in reports),
        max_in_flight=max_in_flight if model == "open" else None,
        user_errors=sum(int(r.get("user_errors", 0)) for r in reports),
        paced_users=tuple(dict.fromkeys(str(u) for r in reports for u in r.get("paced_users", ()))),
    )


def _merge_by_request(reports: list[Mapping[str, Any]]) -> tuple[RequestStats, ...]:
    """Each request name's counts and histograms, added over the processes, in the order
    the names were first seen."""
    names: dict[str, tuple[int, int, int, list[str]]] = {}
    for r in reports:
        for name, body in (r.get("by_request") or {}).items():
            req, fail, dropped, hists = names.get(name, (0, 0, 0, []))
            hists.append(str(body["histogram"]))
            names[name] = (
                req + int(body["requests"]),
                fail + int(body["failures"]),
                dropped + int(body.get("dropped", 0)),
                hists,
            )
    out = []
    for name, (req, fail, dropped, hists) in names.items():
        merged = merge_encoded(hists)
        out.append(
            RequestStats(name, req, fail, summarize_ms(merged), encode_histogram(merged), dropped)
        )
    return tuple(out)


def _merge_timelines(
    reports: list[Mapping[str, Any]], first_second: int
) -> tuple[TimelinePoint, ...]:
    # Processes bucket by whole seconds since the shared epoch; the run's second 0 is the
    # one in which the first request left.
    seconds: dict[int, tuple[int, int, list[str]]] = {}
    for r in reports:
        for point in r["timeline"]:
            t_s = int(point["t_s"])
            req, fail, hists = seconds.get(t_s, (0, 0, []))
            hists.append(str(point["histogram"]))
            seconds[t_s] = (req + int(point["requests"]), fail + int(point["failures"]), hists)
    points = []
    for t_s in sorted(seconds):
        req, fail, hists = seconds[t_s]
        hist = merge_encoded(hists, TIMELINE_DIGITS) if hists else new_histogram()
        points.append(TimelinePoint(t_s - first_second, req, fail, summarize_ms(hist)["p95"]))
    return tuple(points)
