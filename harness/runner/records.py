"""Per-test records: every run of a test folded into k/n with intervals. Pure.

The trial unit is one run of one test. A test whose runs both passed and failed is
flaky; a failed attempt that a rerun later "fixed" still counts as a failure.

The records file (``test-runs.jsonl``) has one JSON object a line:

- ``{"event": "collected", "count": N}``: a pytest session collected N test runs;
- ``{"event": "started", "nodeid", "run_nodeid", "repeat", "t"}``: a test run began;
- a run record (no ``"event"``; ``outcome``, ``duration_s``, ...): a test run ended;
- ``{"event": "cut_off", "nodeid", "run_nodeid", "repeat", "running_s", "reason", "t"}``:
  a run that had started and not ended when the runner ended its session (the budget
  watchdog, an interrupt). It is no trial, neither passed nor failed, and is kept so that
  a hang longer than the budget is seen rather than silently missing.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness import stats


__all__ = [
    "CutOffRun",
    "RunRecord",
    "StartedRun",
    "Tally",
    "TestRecord",
    "aggregate",
    "collected_count",
    "cut_off_line",
    "in_flight",
    "iter_lines",
    "read_cut_off",
    "read_cut_offs",
    "read_lines",
    "read_records",
]

COUNTED = ("passed", "failed", "error", "timeout")
# one character per run in TestRecord.outcome_codes; "?" for an outcome no plugin writes
OUTCOME_CODES = {"passed": "p", "failed": "f", "error": "e", "timeout": "t", "skipped": "s"}
OUTCOME_NAMES = {code: name for name, code in OUTCOME_CODES.items()} | {"?": "unknown"}
# distinct failure messages kept per test (a message with a timestamp in it is new each run)
MAX_MESSAGES = 20


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of one test, as the plugin wrote it."""

    nodeid: str
    outcome: str  # passed | failed | error | timeout | skipped
    duration_s: float
    repeat: int = 1
    message: str = ""
    worker: str | None = None
    rerun: bool = False


@dataclass(frozen=True, slots=True)
class StartedRun:
    """A test run that began (its ``started`` line) and has not ended yet."""

    nodeid: str
    run_nodeid: str
    repeat: int
    started_t: float  # wall clock (time.time()) when the controller heard of its start


@dataclass(frozen=True, slots=True)
class CutOffRun:
    """A test run still in flight when the runner ended its session: no trial."""

    nodeid: str
    run_nodeid: str
    repeat: int
    running_s: float  # how long it had been running when it was cut off
    reason: str  # "budget" (the whole-run watchdog) or "interrupted"


@dataclass(frozen=True, slots=True)
class TestRecord:
    """Every counted run of one test, with its figures.

    Held compactly, so that a run of 100,000 test runs stays small: the outcomes as one
    character per run (:data:`OUTCOME_CODES`), the durations as their summary.
    """

    nodeid: str
    n: int
    passed: int
    failed: int
    errors: int
    timeouts: int
    skipped: int
    outcome_codes: str  # one character per run, in the order the runs ended
    duration_s: Mapping[str, float] = field(default_factory=dict)  # p50, p95, max of counted
    messages: tuple[str, ...] = field(default=())
    # runs still going when the session was ended (budget, interrupt): listed, never counted
    cut_off_running_s: tuple[float, ...] = field(default=())

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(OUTCOME_NAMES[c] for c in self.outcome_codes)

    @property
    def cut_off(self) -> int:
        return len(self.cut_off_running_s)

    @property
    def flaky(self) -> bool:
        return 0 < self.passed < self.n

    @property
    def failures(self) -> int:
        return self.n - self.passed

    def interval(self, method: str = "clopper-pearson") -> stats.Interval:
        from harness import stats  # scipy is slow to import: not before pytest has started

        fn = {
            "clopper-pearson": stats.clopper_pearson,
            "wilson": stats.wilson,
            "jeffreys": stats.jeffreys,
        }[method]
        return fn(self.passed, self.n, 0.95)

    def decision(self, slo: float) -> stats.Decision:
        from harness import stats

        return stats.decide(self.passed, self.n, slo, 0.95)

    def trials_needed(self, slo: float) -> int:
        from harness import stats

        return stats.trials_needed(slo, self.passed, self.n, 0.95)

    def duration_summary(self) -> dict[str, float]:
        return dict(self.duration_s)

    def to_json(self, slo: float) -> dict[str, object]:
        body: dict[str, object] = {
            "nodeid": self.nodeid,
            "n": self.n,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "skipped": self.skipped,
            "flaky": self.flaky,
            "slo": slo,
            "decision": self.decision(slo) if self.n else "insufficient",
            "trials_needed": self.trials_needed(slo) if self.n else None,
            "duration_s": self.duration_summary(),
            "outcomes": list(self.outcomes),
            "messages": list(self.messages[:5]),
            "cut_off": self.cut_off,
            "cut_off_running_s": [round(s, 3) for s in self.cut_off_running_s],
        }
        if self.n:
            body["pass_rate"] = self.interval().to_json()
            body["wilson"] = self.interval("wilson").to_json()
            body["jeffreys"] = self.interval("jeffreys").to_json()
        else:
            body["pass_rate"] = None
        return body


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every whole JSON object in a records file, one at a time; a torn line (crash
    mid-write) and the NUL tail of a killed writer (:mod:`harness.journal`) are skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(raw, dict):
                yield raw


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every whole JSON object in a records file (:func:`iter_lines`, as a list)."""
    return list(iter_lines(path))


def _is_run(raw: Mapping[str, Any]) -> bool:
    return "event" not in raw and "nodeid" in raw and "outcome" in raw


def read_records(path: Path) -> list[RunRecord]:
    """The ended test runs of a records file; a torn last line is ignored, not fatal."""
    return [
        RunRecord(
            nodeid=str(raw["nodeid"]),
            outcome=str(raw["outcome"]),
            duration_s=float(raw.get("duration_s", 0.0)),
            repeat=int(raw.get("repeat", 1)),
            message=str(raw.get("message", "")),
            worker=raw.get("worker"),
            rerun=bool(raw.get("rerun", False)),
        )
        for raw in read_lines(path)
        if _is_run(raw)
    ]


def in_flight(lines: Iterable[Mapping[str, Any]]) -> list[StartedRun]:
    """Runs that started and have not ended (nor been recorded as cut off), in start order.

    A run id can recur (a later batch of ``--until-confident`` reuses it), so the lines are
    replayed in order. A ``rerun`` record ends an attempt, not the run: the retry goes on.
    """
    running: dict[str, StartedRun] = {}
    for raw in lines:
        run_nodeid = str(raw.get("run_nodeid", raw.get("nodeid", "")))
        event = raw.get("event")
        if event == "started":
            running[run_nodeid] = StartedRun(
                nodeid=str(raw["nodeid"]),
                run_nodeid=run_nodeid,
                repeat=int(raw.get("repeat", 1)),
                started_t=float(raw.get("t", 0.0)),
            )
        elif event == "cut_off" or (_is_run(raw) and not raw.get("rerun", False)):
            running.pop(run_nodeid, None)
    return list(running.values())


def cut_off_line(run: CutOffRun, t: float) -> dict[str, Any]:
    """The records-file line for a run that was cut off."""
    return {
        "event": "cut_off",
        "nodeid": run.nodeid,
        "run_nodeid": run.run_nodeid,
        "repeat": run.repeat,
        "running_s": round(run.running_s, 3),
        "reason": run.reason,
        "t": t,
    }


def read_cut_off(raw: Mapping[str, Any]) -> CutOffRun:
    """The run a ``cut_off`` line names."""
    return CutOffRun(
        nodeid=str(raw["nodeid"]),
        run_nodeid=str(raw.get("run_nodeid", raw["nodeid"])),
        repeat=int(raw.get("repeat", 1)),
        running_s=float(raw.get("running_s", 0.0)),
        reason=str(raw.get("reason", "")),
    )


def read_cut_offs(path: Path) -> list[CutOffRun]:
    """The runs a records file says were cut off when their session was ended."""
    return [
        read_cut_off(raw)
        for raw in read_lines(path)
        if raw.get("event") == "cut_off" and "nodeid" in raw
    ]


def collected_count(path: Path) -> int | None:
    """How many test runs the latest pytest session collected (from its event line)."""
    count = None
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith('{"count"') or '"event": "collected"' in line:
                try:
                    count = int(json.loads(line)["count"])
                except (json.JSONDecodeError, KeyError, ValueError):
                    continue
    return count


class _Runs:
    """One test's runs so far: counts, an outcome code and a duration per run."""

    __slots__ = ("counts", "codes", "durations", "messages", "cut_off")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(OUTCOME_CODES, 0)
        self.codes = bytearray()  # a byte per run
        self.durations = array("d")  # of the counted runs: 8 bytes each
        self.messages: dict[str, None] = {}
        self.cut_off: list[float] = []

    def add(self, outcome: str, duration_s: float, message: str) -> None:
        if outcome in self.counts:
            self.counts[outcome] += 1
        self.codes.append(ord(OUTCOME_CODES.get(outcome, "?")))
        if outcome in COUNTED:
            self.durations.append(duration_s)
        if message and outcome != "passed" and len(self.messages) < MAX_MESSAGES:
            self.messages[message] = None

    def record(self, nodeid: str) -> TestRecord:
        counts = self.counts
        return TestRecord(
            nodeid=nodeid,
            n=sum(counts[o] for o in COUNTED),
            passed=counts["passed"],
            failed=counts["failed"],
            errors=counts["error"],
            timeouts=counts["timeout"],
            skipped=counts["skipped"],
            outcome_codes=self.codes.decode("ascii"),
            duration_s=_summary(self.durations),
            messages=tuple(self.messages),
            cut_off_running_s=tuple(self.cut_off),
        )


def _summary(durations: array[float]) -> dict[str, float]:
    if not durations:
        return {}
    ordered = sorted(durations)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": round(pick(0.5), 6), "p95": round(pick(0.95), 6), "max": round(ordered[-1], 6)}


class Tally:
    """Runs folded into one record per test as they are read: what it holds grows by a
    byte and a duration per run, never by the run's record (streaming aggregation)."""

    def __init__(self) -> None:
        self._tests: dict[str, _Runs] = {}
        self.runs = 0  # ended runs, skips included

    def add(self, nodeid: str, outcome: str, duration_s: float, message: str = "") -> None:
        runs = self._tests.get(nodeid)
        if runs is None:
            runs = self._tests[nodeid] = _Runs()
        runs.add(outcome, duration_s, message)
        self.runs += 1

    def add_line(self, raw: Mapping[str, Any]) -> None:
        """A run record of the records file (the caller has checked it is one)."""
        self.add(
            str(raw["nodeid"]),
            str(raw["outcome"]),
            float(raw.get("duration_s", 0.0)),
            str(raw.get("message", "")),
        )

    def cut(self, run: CutOffRun) -> None:
        runs = self._tests.get(run.nodeid)
        if runs is None:
            runs = self._tests[run.nodeid] = _Runs()
        runs.cut_off.append(run.running_s)

    def records(self) -> list[TestRecord]:
        """One record per test, sorted by failure rate (worst first)."""
        out = [runs.record(nodeid) for nodeid, runs in self._tests.items()]
        out.sort(key=lambda t: (-(t.failures / t.n) if t.n else 1.0, t.nodeid))
        return out


def aggregate(records: Iterable[RunRecord], cut_off: Iterable[CutOffRun] = ()) -> list[TestRecord]:
    """Fold runs into one record per test, sorted by failure rate (worst first).

    Cut-off runs are listed with their test (a test that only ever hung past the budget
    gets a record with n = 0) and count in none of its figures.
    """
    tally = Tally()
    for record in records:
        tally.add(record.nodeid, record.outcome, record.duration_s, record.message)
    for run in cut_off:
        tally.cut(run)
    return tally.records()
