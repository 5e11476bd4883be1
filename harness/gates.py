"""Quality gates: measurements and thresholds in, outcomes out. Pure: no I/O.

A gate passes when the evidence clears its threshold at 95% confidence, fails when the
evidence misses it at 95% confidence, and is otherwise ``insufficient``: not enough
trials to say either, with the number still needed where one can be computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from harness import stats
from harness.config import GateSettings

__all__ = [
    "ChaosEvidence",
    "Evidence",
    "GateResult",
    "LoadEvidence",
    "Outcome",
    "PercentileEstimate",
    "SuiteEvidence",
    "evaluate_gates",
    "overall_outcome",
]

Outcome = Literal["pass", "fail", "insufficient"]

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class SuiteEvidence:
    """Every run of every selected test: a retry that passed still counts as a failure."""

    passed: int
    n: int


@dataclass(frozen=True, slots=True)
class PercentileEstimate:
    """A latency percentile with order-statistic confidence bounds (None when n is too small)."""

    q: float
    n: int
    estimate_ms: float
    low_ms: float | None
    high_ms: float | None


@dataclass(frozen=True, slots=True)
class LoadEvidence:
    requests: int
    failures: int
    rps: float
    p95: PercentileEstimate
    p99: PercentileEstimate


@dataclass(frozen=True, slots=True)
class ChaosEvidence:
    name: str
    effect_observed: bool
    recovery_s: tuple[float | None, ...]  # one per injection; None = never recovered
    error: str | None = None  # e.g. steady state not met, error budget broken, not run


@dataclass(frozen=True, slots=True)
class Evidence:
    tests: SuiteEvidence | None = None
    load: LoadEvidence | None = None
    chaos: tuple[ChaosEvidence, ...] | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str
    outcome: Outcome
    observed: float | None
    threshold: float
    comparison: Literal["<=", ">="]
    detail: str
    n: int = 0
    trials_needed: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "observed": self.observed,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "detail": self.detail,
            "n": self.n,
            "trials_needed": self.trials_needed,
        }


def _missing(name: str, threshold: float, comparison: Literal["<=", ">="], what: str) -> GateResult:
    return GateResult(name, "insufficient", None, threshold, comparison, f"no {what} measured")


def _test_success(ev: Evidence, threshold: float) -> GateResult:
    name = "test_success"
    if ev.tests is None or ev.tests.n == 0:
        return _missing(name, threshold, ">=", "test runs")
    k, n = ev.tests.passed, ev.tests.n
    low = stats.lower_bound(k, n, CONFIDENCE)
    high = stats.upper_bound(k, n, CONFIDENCE)
    outcome = stats.decide(k, n, threshold, CONFIDENCE)
    needed = stats.trials_needed(threshold, k, n, CONFIDENCE) if outcome == "insufficient" else None
    detail = (
        f"{k}/{n} test runs passed; one-sided 95% bounds [{low:.4f}, {high:.4f}] "
        f"against >= {threshold}"
    )
    if needed is not None:
        detail += f"; not enough evidence: {needed} more passing runs needed"
    return GateResult(name, outcome, low, threshold, ">=", detail, n, needed)


def _load_error_rate(ev: Evidence, threshold: float) -> GateResult:
    name = "load_error_rate"
    if ev.load is None or ev.load.requests == 0:
        return _missing(name, threshold, "<=", "load requests")
    bad, n = ev.load.failures, ev.load.requests
    outcome = stats.decide_max_rate(bad, n, threshold, CONFIDENCE)
    high = stats.upper_bound(bad, n, CONFIDENCE)
    needed = None
    if outcome == "insufficient" and threshold > 0:
        # further clean requests until the upper bound of the error rate is under threshold
        needed = stats.trials_needed(1 - threshold, n - bad, n, CONFIDENCE)
    detail = (
        f"{bad}/{n} requests failed; one-sided 95% upper bound {high:.5f} against <= {threshold}"
    )
    if needed is not None:
        detail += f"; not enough evidence: {needed} more clean requests needed"
    return GateResult(name, outcome, bad / n, threshold, "<=", detail, n, needed)


def _latency(attr: Literal["p95", "p99"], ev: Evidence, threshold: float) -> GateResult:
    name = f"load_{attr}_ms"
    if ev.load is None or ev.load.requests == 0:
        return _missing(name, threshold, "<=", "load latency")
    est: PercentileEstimate = getattr(ev.load, attr)
    minimum = stats.min_samples_for_percentile(est.q, CONFIDENCE)
    if est.n < minimum or est.high_ms is None or est.low_ms is None:
        return GateResult(
            name,
            "insufficient",
            est.estimate_ms,
            threshold,
            "<=",
            f"{est.n} samples: a {attr} gate needs at least {minimum}",
            est.n,
            minimum - est.n,
        )
    if est.high_ms <= threshold:
        outcome: Outcome = "pass"
    elif est.low_ms > threshold:
        outcome = "fail"
    else:
        outcome = "insufficient"
    detail = (
        f"{attr} {est.estimate_ms:.3f} ms from {est.n} samples, 95% order-statistic bounds "
        f"[{est.low_ms:.3f}, {est.high_ms:.3f}] ms against <= {threshold} ms"
    )
    return GateResult(name, outcome, est.estimate_ms, threshold, "<=", detail, est.n)


def _load_min_rps(ev: Evidence, threshold: float) -> GateResult:
    name = "load_min_rps"
    if ev.load is None or ev.load.requests == 0:
        return _missing(name, threshold, ">=", "load throughput")
    outcome: Outcome = "pass" if ev.load.rps >= threshold else "fail"
    detail = f"{ev.load.rps:.1f} req/s measured against >= {threshold}"
    return GateResult(name, outcome, ev.load.rps, threshold, ">=", detail, ev.load.requests)


def _chaos_recovery(ev: Evidence, threshold: float) -> GateResult:
    name = "chaos_recovery_s"
    if not ev.chaos:
        return _missing(name, threshold, "<=", "chaos experiments")
    problems: list[str] = []
    recoveries: list[float | None] = []
    for exp in ev.chaos:
        if exp.error:
            problems.append(f"{exp.name}: {exp.error}")
        elif not exp.effect_observed:
            problems.append(f"{exp.name}: the fault had no visible effect")
        recoveries.extend(exp.recovery_s)
    summary = stats.summarize_recoveries(recoveries, threshold, CONFIDENCE, CONFIDENCE)
    slow = [r for r in recoveries if r is None or r > threshold]
    if slow:
        problems.append(
            f"{len(slow)}/{len(recoveries)} injections not recovered within {threshold} s"
        )
    observed = summary.max_s
    outcome: Outcome = "fail" if problems else "pass"
    detail = (
        f"{summary.recovered}/{summary.n} injections recovered; "
        f"max {observed if observed is None else round(observed, 3)} s"
    )
    if problems:
        detail += "; " + "; ".join(problems)
    return GateResult(name, outcome, observed, threshold, "<=", detail, summary.n)


_GATES: dict[str, Callable[[Evidence, float], GateResult]] = {
    "test_success": _test_success,
    "load_error_rate": _load_error_rate,
    "load_p95_ms": lambda ev, t: _latency("p95", ev, t),
    "load_p99_ms": lambda ev, t: _latency("p99", ev, t),
    "load_min_rps": _load_min_rps,
    "chaos_recovery_s": _chaos_recovery,
}


def evaluate_gates(settings: GateSettings, evidence: Evidence) -> tuple[GateResult, ...]:
    """Apply every configured gate to the evidence, in a stable order."""
    results = []
    for name, evaluate in _GATES.items():
        threshold = getattr(settings, name)
        if threshold is not None:
            results.append(evaluate(evidence, float(threshold)))
    return tuple(results)


def overall_outcome(results: Sequence[GateResult]) -> Outcome:
    """fail if any gate failed; else insufficient if any could not decide; else pass."""
    outcomes = {r.outcome for r in results}
    if "fail" in outcomes:
        return "fail"
    if "insufficient" in outcomes:
        return "insufficient"
    return "pass"
