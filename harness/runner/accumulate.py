"""A test's record across every run of the same code. Pure.

Runs count as "the same code" when they share a git commit and neither had uncommitted
changes; ``reports/history.jsonl`` carries each run's per-test ``[passed, n]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.stats import Decision, Interval

__all__ = ["Accumulated", "Counted", "accumulate"]


class Counted(Protocol):
    """A test's runs in this run (:class:`harness.runner.records.TestRecord` is one)."""

    @property
    def nodeid(self) -> str: ...
    @property
    def passed(self) -> int: ...
    @property
    def n(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Accumulated:
    """One test over this run and the earlier clean runs of the same commit."""

    passed: int
    n: int
    runs: int  # this run and the earlier ones that ran the test
    commit: str | None
    reason: str | None  # why earlier runs were not counted, when they were not
    pass_rate: Interval | None = None
    decision: Decision | None = None
    trials_needed: int | None = None

    @property
    def flaky(self) -> bool:
        return 0 < self.passed < self.n

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "passed": self.passed,
            "n": self.n,
            "runs": self.runs,
            "flaky": self.flaky,
            "commit": self.commit,
            "reason": self.reason,
        }
        if self.n:
            body["pass_rate"] = self.pass_rate.to_json() if self.pass_rate else None
            body["decision"] = self.decision
            body["trials_needed"] = self.trials_needed
        return body


def accumulate(
    current: Iterable[Counted],
    history: Iterable[Mapping[str, Any]],
    *,
    commit: str | None,
    dirty: bool,
    slo: float,
) -> dict[str, Accumulated]:
    """For each current test: passed and n summed over this run and earlier clean runs
    of the same commit (``history``: history.jsonl's lines), with the interval and
    decision of the sum."""
    from harness import stats  # scipy: imported once pytest has started

    earlier: dict[str, list[int]] = {}
    runs_counted = 0
    if commit and not dirty:
        for line in history:
            if line.get("git_commit") != commit or line.get("git_dirty", True):
                continue
            runs_counted += 1
            for nodeid, (passed, n) in (line.get("tests") or {}).items():
                acc = earlier.setdefault(nodeid, [0, 0])
                acc[0] += int(passed)
                acc[1] += int(n)
    reason = (
        None
        if commit and not dirty
        else "not accumulated: " + ("no git commit" if not commit else "uncommitted changes")
    )
    out: dict[str, Accumulated] = {}
    for test in current:
        prior_passed, prior_n = earlier.get(test.nodeid, [0, 0])
        passed, n = test.passed + prior_passed, test.n + prior_n
        out[test.nodeid] = Accumulated(
            passed=passed,
            n=n,
            runs=1 + (runs_counted if prior_n else 0),
            commit=commit,
            reason=reason,
            pass_rate=stats.clopper_pearson(passed, n) if n else None,
            decision=stats.decide(passed, n, slo) if n else None,
            trials_needed=stats.trials_needed(slo, passed, n) if n else None,
        )
    return out
