"""Per-test records: every run of a test folded into k/n with intervals. Pure.

The trial unit is one run of one test. A test whose runs both passed and failed is
flaky; a failed attempt that a rerun later "fixed" still counts as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness import stats


__all__ = ["RunRecord", "TestRecord", "aggregate", "collected_count", "read_records"]

COUNTED = ("passed", "failed", "error", "timeout")


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
class TestRecord:
    """Every counted run of one test, with its figures."""

    nodeid: str
    n: int
    passed: int
    failed: int
    errors: int
    timeouts: int
    skipped: int
    outcomes: tuple[str, ...]
    durations_s: tuple[float, ...]
    messages: tuple[str, ...] = field(default=())

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
        if not self.durations_s:
            return {}
        ordered = sorted(self.durations_s)

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {
            "p50": round(pick(0.5), 6),
            "p95": round(pick(0.95), 6),
            "max": round(ordered[-1], 6),
        }

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
        }
        if self.n:
            body["pass_rate"] = self.interval().to_json()
            body["wilson"] = self.interval("wilson").to_json()
            body["jeffreys"] = self.interval("jeffreys").to_json()
        else:
            body["pass_rate"] = None
        return body


def read_records(path: Path) -> list[RunRecord]:
    """Read a records file; a torn last line (crash mid-write) is ignored, not fatal."""
    records: list[RunRecord] = []
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "nodeid" not in raw:  # an event line, e.g. {"event": "collected"}
            continue
        records.append(
            RunRecord(
                nodeid=str(raw["nodeid"]),
                outcome=str(raw["outcome"]),
                duration_s=float(raw.get("duration_s", 0.0)),
                repeat=int(raw.get("repeat", 1)),
                message=str(raw.get("message", "")),
                worker=raw.get("worker"),
                rerun=bool(raw.get("rerun", False)),
            )
        )
    return records


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


def aggregate(records: Iterable[RunRecord]) -> list[TestRecord]:
    """Fold runs into one record per test, sorted by failure rate (worst first)."""
    by_test: dict[str, list[RunRecord]] = {}
    for record in records:
        by_test.setdefault(record.nodeid, []).append(record)
    out = [_fold(nodeid, runs) for nodeid, runs in by_test.items()]
    out.sort(key=lambda t: (-(t.failures / t.n) if t.n else 1.0, t.nodeid))
    return out


def _fold(nodeid: str, runs: Sequence[RunRecord]) -> TestRecord:
    outcomes = tuple(r.outcome for r in runs)
    counted = [r for r in runs if r.outcome in COUNTED]
    messages = tuple(dict.fromkeys(r.message for r in runs if r.message and r.outcome != "passed"))
    return TestRecord(
        nodeid=nodeid,
        n=len(counted),
        passed=sum(1 for r in counted if r.outcome == "passed"),
        failed=sum(1 for r in counted if r.outcome == "failed"),
        errors=sum(1 for r in counted if r.outcome == "error"),
        timeouts=sum(1 for r in counted if r.outcome == "timeout"),
        skipped=sum(1 for r in runs if r.outcome == "skipped"),
        outcomes=outcomes,
        durations_s=tuple(r.duration_s for r in counted),
        messages=messages,
    )
