"""A test's record across every run of the same code. Pure.

Runs count as "the same code" when they share a git commit and neither had uncommitted
changes; ``reports/history.jsonl`` carries each run's per-test ``[passed, n]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["accumulate"]


def accumulate(
    current: Iterable[Mapping[str, Any]],
    history: Iterable[Mapping[str, Any]],
    *,
    commit: str | None,
    dirty: bool,
    slo: float,
) -> dict[str, dict[str, Any]]:
    """For each current test: passed and n summed over this run and earlier clean runs
    of the same commit, with the interval and decision of the sum."""
    from harness import stats  # scipy: imported once pytest has started

    earlier: dict[str, list[int]] = {}
    runs_counted = 0
    if commit and not dirty:
        for line in history:
            if line.get("git_commit") != commit or line.get("git_dirty", True):
                continue
            runs_counted += 1
            for nodeid, (passed, n) in (line.get("tests") or {}).items():
                acc = earlier.setdefault(nodeid, [0, 0, 0])
                acc[0] += int(passed)
                acc[1] += int(n)
                acc[2] += 0 < int(passed) < int(n)
    out: dict[str, dict[str, Any]] = {}
    for test in current:
        nodeid = str(test["nodeid"])
        prior_passed, prior_n, prior_flaky = earlier.get(nodeid, [0, 0, 0])
        passed = int(test["passed"]) + prior_passed
        n = int(test["n"]) + prior_n
        body: dict[str, Any] = {
            "passed": passed,
            "n": n,
            "runs": 1 + (runs_counted if prior_n else 0),
            "flaky": 0 < passed < n,
            "commit": commit,
            "reason": None
            if commit and not dirty
            else ("not accumulated: " + ("no git commit" if not commit else "uncommitted changes")),
        }
        if n:
            body["pass_rate"] = stats.clopper_pearson(passed, n).to_json()
            body["decision"] = stats.decide(passed, n, slo)
            body["trials_needed"] = stats.trials_needed(slo, passed, n)
        out[nodeid] = body
    return out
