"""Quality gates: measurements and thresholds in, outcomes out. Pure: no I/O.

A gate passes when the evidence clears its threshold at 95% confidence, fails when the
evidence misses it at 95% confidence, and is otherwise ``insufficient``: not enough
trials to say either, with the number still needed where one can be computed. A gate is
``off`` when the config switches it off (``gates.NAME = "off"``) or its phase does not
run: it is listed, with the reason, and judges nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from harness import resource_gates, stats
from harness.api_coverage import ApiCoverage, api_coverage_gate
from harness.availability import Availability, availability_gate
from harness.code_coverage import CoverageFigures, coverage_gate
from harness.decision import Decision, GateThresholds
from harness.floor import GeneratorFloor, floor_verdict
from harness.fuzz import FuzzOutcome, fuzz_gate
from harness.regression_gate import RegressionEvidence, regression_gate
from harness.resources import ResourceUsage
from harness.security import SecurityOutcome, security_gate
from harness.stats import PercentileEstimate

__all__ = [
    "ChaosEvidence",
    "Evidence",
    "GATE_NAMES",
    "GATE_PHASES",
    "OFF",
    "GateOutcome",
    "GateResult",
    "GateThresholds",
    "LoadEvidence",
    "NOT_RUN_PREFIX",
    "Outcome",
    "PercentileEstimate",
    "RegressionEvidence",
    "SuiteEvidence",
    "TestEvidence",
    "evaluate_gates",
    "evaluate_one",
    "from_decision",
    "overall_outcome",
    "test_slo_gate",
]

Outcome = Literal["pass", "fail", "insufficient"]
GateOutcome = Literal["pass", "fail", "insufficient", "off"]

# the config's word for a gate switched off (a profile's inherited gate can be dropped)
OFF = "off"

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class TestEvidence:
    """Every run of one test."""

    __test__ = False  # not a pytest test class

    nodeid: str
    passed: int
    n: int


@dataclass(frozen=True, slots=True)
class SuiteEvidence:
    """Every run of every selected test: a retry that passed still counts as a failure.

    ``passed``/``n`` pool every run of every test; ``tests`` keeps each test's own runs, so
    that a gate can judge each test as well as the pool.
    """

    passed: int
    n: int
    tests: tuple[TestEvidence, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadEvidence:
    requests: int
    failures: int
    rps: float
    p95: PercentileEstimate
    p99: PercentileEstimate
    intended_rps: float = 0.0  # 0: the closed model (as fast as it goes)
    floor: GeneratorFloor | None = None  # the generator's own latency (harness.floor)
    # each request name's own evidence (harness.request_gates judges them)
    by_request: tuple[tuple[str, LoadEvidence], ...] = ()
    aborted: str | None = None  # why a gate marked abort_on_fail ended the load early


# harness.chaos.executor.not_run_result starts every not-run experiment's error with this
NOT_RUN_PREFIX = "not run: "


@dataclass(frozen=True, slots=True)
class ChaosEvidence:
    """One chaos experiment: did its fault show, and how long did each injection take to heal.

    An experiment that did not run (``status="not_run"``, or an error starting with
    ``"not run: "``) injected nothing: its ``recovery_s`` is no evidence either way.
    """

    name: str
    effect_observed: bool
    recovery_s: tuple[float | None, ...]  # one per injection; None = never recovered
    error: str | None = None  # e.g. steady state not met, error budget broken, not run
    status: Literal["run", "not_run"] = "run"
    # the experiment's recovery limit (the record's: its own, or the gate's if tighter)
    limit_s: float | None = None

    @property
    def ran(self) -> bool:
        return self.status == "run" and not (self.error or "").startswith(NOT_RUN_PREFIX)


@dataclass(frozen=True, slots=True)
class Evidence:
    tests: SuiteEvidence | None = None
    load: LoadEvidence | None = None
    chaos: tuple[ChaosEvidence, ...] | None = None
    availability: Availability | None = None  # the whole-run prober's timeline, analysed
    resources: ResourceUsage | None = None  # the target's memory and CPU, sampled
    regression: RegressionEvidence | None = None  # the comparison with a baseline run
    coverage: CoverageFigures | None = None  # the target's code coverage, overall
    coverage_basis: str = "lines"
    api_coverage: ApiCoverage | None = None  # the OpenAPI operations the tests exercised
    api_coverage_basis: str = "operations"
    api_coverage_why: str = ""  # why it was not measured
    security: SecurityOutcome | None = None  # the target's code and dependencies, scanned
    fuzz: FuzzOutcome | None = None  # schemathesis against the OpenAPI document


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's outcome and the figures it was decided on.

    ``observed`` is the point estimate: k/n, or the measured value. ``decided_on`` is the
    figure the outcome was decided on (a one-sided 95% bound, an order-statistic bound,
    or the measured value where there is no interval) and ``decided_by`` names it; both
    are None when there was nothing to decide on (no evidence, too few samples).
    """

    name: str
    outcome: GateOutcome
    observed: float | None
    threshold: float | None  # None for a gate that is off
    comparison: Literal["<=", ">="]
    detail: str
    n: int = 0
    trials_needed: int | None = None
    decided_on: float | None = None
    decided_by: str | None = None

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
            "decided_on": self.decided_on,
            "decided_by": self.decided_by,
        }


_LOWER = "one-sided 95% lower bound"
_UPPER = "one-sided 95% upper bound"


def _seconds(value: float) -> str:
    """Seconds to 3 significant digits, positional, no trailing zeros: 0.000462, 1.2, 31.4."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    rounded = float(f"{value:.2e}")  # round first: 0.0009996 is 0.001, not 0.000999
    decimals = max(0, 2 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{rounded:.0f}"


def _missing(name: str, threshold: float, comparison: Literal["<=", ">="], what: str) -> GateResult:
    return GateResult(name, "insufficient", None, threshold, comparison, f"no {what} measured")


def _below_on_their_own(suite: SuiteEvidence, threshold: float) -> list[tuple[TestEvidence, float]]:
    """Each test whose own upper bound is below ``threshold``, with that bound, worst first:
    more runs of it will not bring it up to the threshold at 95% confidence."""
    below = [(t, stats.upper_bound(t.passed, t.n, CONFIDENCE)) for t in suite.tests if t.n > 0]
    return sorted(((t, high) for t, high in below if high < threshold), key=lambda b: b[1])


def _test_success(ev: Evidence, threshold: float) -> GateResult:
    """Every run of every test pooled against ``threshold``, and each test on its own: a
    test whose own upper bound is below the threshold fails the gate whatever the pool."""
    name = "test_success"
    if ev.tests is None or ev.tests.n == 0:
        return _missing(name, threshold, ">=", "test runs")
    k, n = ev.tests.passed, ev.tests.n
    low = stats.lower_bound(k, n, CONFIDENCE)
    high = stats.upper_bound(k, n, CONFIDENCE)
    outcome = stats.decide(k, n, threshold, CONFIDENCE)
    detail = (
        f"{k}/{n} test runs passed; one-sided 95% bounds [{low:.4f}, {high:.4f}] "
        f"against >= {threshold}"
    )
    below = _below_on_their_own(ev.tests, threshold)
    if below:
        worst, worst_high = below[0]
        shown = ", ".join(
            f"{t.nodeid} {t.passed}/{t.n} (upper bound {h:.4f})" for t, h in below[:5]
        )
        more = f" and {len(below) - 5} more" if len(below) > 5 else ""
        detail += (
            f"; fail: {len(below)} test(s) below {threshold} on their own, "
            f"whatever the pool: {shown}{more}"
        )
        return GateResult(
            name, "fail", k / n, threshold, ">=", detail, n, None, worst_high,
            f"{_UPPER} of {worst.nodeid}",
        )  # fmt: skip
    needed = stats.trials_needed(threshold, k, n, CONFIDENCE) if outcome == "insufficient" else None
    if needed is not None:
        detail += f"; not enough evidence: {needed} more passing runs needed"
    # a minimum passes on its lower bound and fails on its upper bound (stats.decide)
    decided_on, decided_by = (high, _UPPER) if outcome == "fail" else (low, _LOWER)
    doubtful = [t for t in ev.tests.tests if t.n > 0 and t.passed / t.n < threshold]
    if outcome == "pass" and doubtful:
        # the pool clears the threshold, but a test below it on its own is not yet shown
        # either way: no pass until its own runs decide
        outcome = "insufficient"
        runs = max(stats.trials_needed(threshold, t.passed, t.n, CONFIDENCE) for t in doubtful)
        needed = runs or None
        shown = ", ".join(f"{t.nodeid} {t.passed}/{t.n}" for t in doubtful[:5])
        detail += (
            f"; not enough evidence: {len(doubtful)} test(s) below {threshold} on their own, "
            f"not yet shown either way: {shown}"
        )
    return GateResult(
        name, outcome, k / n, threshold, ">=", detail, n, needed, decided_on, decided_by
    )


def _test_slo(ev: Evidence, threshold: float) -> GateResult:
    if ev.tests is None or ev.tests.n == 0:
        return _missing("test_slo", threshold, ">=", "test runs")
    return test_slo_gate(ev.tests, threshold)


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
    # a maximum passes on its upper bound and fails on its lower bound (stats.decide_max_rate):
    # the detail quotes the bound the outcome was decided on
    if outcome == "fail":
        decided_on, decided_by = stats.lower_bound(bad, n, CONFIDENCE), _LOWER
        detail = (
            f"{bad}/{n} requests failed; one-sided 95% lower bound {decided_on:.5f} is above "
            f"<= {threshold}"
        )
    else:
        decided_on, decided_by = high, _UPPER
        detail = (
            f"{bad}/{n} requests failed; one-sided 95% upper bound {high:.5f} "
            f"against <= {threshold}"
        )
    if needed is not None:
        detail += f"; not enough evidence: {needed} more clean requests needed"
    return GateResult(
        name, outcome, bad / n, threshold, "<=", detail, n, needed, decided_on, decided_by
    )


def _latency(attr: Literal["p95", "p99"], ev: Evidence, threshold: float) -> GateResult:
    name = f"load_{attr}_ms"
    if ev.load is None or ev.load.requests == 0:
        return _missing(name, threshold, "<=", "load latency")
    est: PercentileEstimate = getattr(ev.load, attr)
    if ev.load.failures >= ev.load.requests:
        return GateResult(
            name, "insufficient", est.estimate_ms, threshold, "<=",
            f"every one of the {ev.load.requests} requests failed: no answer time to judge",
            est.n,
        )  # fmt: skip
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
    if ev.load.failures:
        detail += (
            f"; {ev.load.failures} of them failed, and their time is in the {attr} too "
            "(a fast error is not a fast answer: see load_error_rate)"
        )
    outcome, note = floor_verdict(attr, outcome, est.estimate_ms, ev.load.floor)
    detail += note
    if outcome == "fail":
        decided_on, decided_by = est.low_ms, "95% order-statistic lower bound"
    else:
        decided_on, decided_by = est.high_ms, "95% order-statistic upper bound"
    return GateResult(
        name, outcome, est.estimate_ms, threshold, "<=", detail, est.n, None, decided_on, decided_by
    )


def _load_min_rps(ev: Evidence, threshold: float) -> GateResult:
    name = "load_min_rps"
    if ev.load is None or ev.load.requests == 0:
        return _missing(name, threshold, ">=", "load throughput")
    if 0 < ev.load.intended_rps < threshold:  # it asked for less: it cannot show either way
        return GateResult(
            name, "insufficient", ev.load.rps, threshold, ">=",
            f"{ev.load.rps:.1f} req/s measured, but the load asked for only "
            f"{ev.load.intended_rps:,.0f} req/s; not enough evidence: a load at >= "
            f"{threshold:,.0f} req/s intended (or the closed model) would show it",
            ev.load.requests,
        )  # fmt: skip
    outcome: Outcome = "pass" if ev.load.rps >= threshold else "fail"
    detail = f"{ev.load.rps:.1f} req/s measured against >= {threshold}"
    return GateResult(
        name,
        outcome,
        ev.load.rps,
        threshold,
        ">=",
        detail,
        ev.load.requests,
        decided_on=ev.load.rps,
        decided_by="measured throughput (no interval)",
    )


def _chaos_recovery(ev: Evidence, threshold: float) -> GateResult:
    """Every injection must take effect and recover within its experiment's limit: the
    experiment's own, or ``threshold`` when that is tighter (the one limit the chaos section
    uses too).

    An experiment that did not run injected nothing: it adds no recovery to count, and
    the gate cannot pass without it (insufficient), but it is never "not recovered".
    """
    name = "chaos_recovery_s"
    if not ev.chaos:
        return _missing(name, threshold, "<=", "chaos experiments")
    ran = [exp for exp in ev.chaos if exp.ran]
    not_run = [exp for exp in ev.chaos if not exp.ran]
    problems: list[str] = []
    n = within = 0
    slowest: float | None = None
    limits: list[str] = []
    for exp in ran:
        if exp.error:
            problems.append(f"{exp.name}: {exp.error}")
        elif not exp.effect_observed:
            problems.append(f"{exp.name}: the fault had no visible effect")
        # one limit per experiment, the one its chaos section uses: its own when tighter
        limit = threshold if exp.limit_s is None else min(exp.limit_s, threshold)
        limits.append(f"{exp.name} {_seconds(limit)} s")
        for seconds in exp.recovery_s:
            n += 1
            within += seconds is not None and seconds <= limit
            if seconds is not None:
                slowest = seconds if slowest is None else max(slowest, seconds)
    unrecovered = sum(1 for exp in ran for r in exp.recovery_s if r is None)
    parts: list[str] = []
    if n:
        parts.append(
            f"{within}/{n} injections recovered within their experiment's limit "
            f"({', '.join(limits)})"
        )
        if slowest is not None:
            parts.append(f"slowest {_seconds(slowest)} s")
        if within < n:
            problems.append(f"{n - within}/{n} injections not recovered within their limit")
        else:
            parts.append(
                "shown: every injection seen recovered in time; not shown: that 95% of all "
                "recoveries would (each experiment's claim, in the chaos section)"
            )
    elif ran:
        parts.append("no injection measured")
    else:
        parts.append("no experiment ran")
    parts += problems
    for exp in not_run:
        reason = (exp.error or "").removeprefix(NOT_RUN_PREFIX) or "no reason given"
        parts.append(f"not run: {exp.name} ({reason})")
    if not_run and ran and not problems:
        parts.append("the gate cannot pass until every experiment has run")
    if problems:
        outcome: Outcome = "fail"
    elif not_run or not n:
        outcome = "insufficient"  # an experiment that did not run can be no pass
    else:
        outcome = "pass"
    every_recovered = n > 0 and unrecovered == 0
    return GateResult(
        name,
        outcome,
        slowest,
        threshold,
        "<=",
        "; ".join(parts),
        n,
        decided_on=slowest if every_recovered else None,
        decided_by="slowest recovery" if every_recovered else None,
    )


def from_decision(d: Decision, comparison: Literal["<=", ">="] = "<=") -> GateResult:
    """A gate decided in a module of its own (availability, coverage, regression, ...)."""
    return GateResult(
        d.name, d.outcome, d.observed, d.threshold, comparison, d.detail, d.n, None,
        d.decided_on, d.decided_by,
    )  # fmt: skip


def _decided(
    decide: Callable[[Evidence, float], Decision], comparison: Literal["<=", ">="] = "<="
) -> Callable[[Evidence, float], GateResult]:
    return lambda ev, threshold: from_decision(decide(ev, threshold), comparison)


_GATES: dict[str, Callable[[Evidence, float], GateResult]] = {
    "test_success": _test_success,
    "test_slo": _test_slo,
    "load_error_rate": _load_error_rate,
    "load_p95_ms": lambda ev, t: _latency("p95", ev, t),
    "load_p99_ms": lambda ev, t: _latency("p99", ev, t),
    "load_min_rps": _load_min_rps,
    "chaos_recovery_s": _chaos_recovery,
    "availability_min": _decided(lambda ev, t: availability_gate(ev.availability, t), ">="),
    "coverage_min": _decided(
        lambda ev, t: coverage_gate("coverage_min", ev.coverage, t, ev.coverage_basis), ">="
    ),
    "api_coverage_min": _decided(
        lambda ev, t: api_coverage_gate(
            ev.api_coverage, t, ev.api_coverage_basis, ev.api_coverage_why
        ),
        ">=",
    ),
    "security_max_high": _decided(lambda ev, t: security_gate(ev.security, t)),
    "api_server_errors_max": _decided(lambda ev, t: fuzz_gate("api_server_errors_max", ev.fuzz, t)),
    "api_contract_violations_max": _decided(
        lambda ev, t: fuzz_gate("api_contract_violations_max", ev.fuzz, t)
    ),
    "regression": _decided(lambda ev, t: regression_gate(ev.regression, t)),
    "target_rss_mb_max": _decided(lambda ev, t: resource_gates.rss_gate(ev.resources, t)),
    "target_cpu_pct_max": _decided(lambda ev, t: resource_gates.cpu_gate(ev.resources, t)),
    "target_rss_growth_mb_per_min_max": _decided(
        lambda ev, t: resource_gates.growth_gate(ev.resources, t)
    ),
}


GATE_NAMES: tuple[str, ...] = tuple(_GATES)
# each gate's phase (whose evidence it judges: a phase that does not run takes its gates
# off) and the direction of its threshold
_META: dict[str, tuple[str, Literal["<=", ">="]]] = {
    "test_success": ("tests", ">="),
    "test_slo": ("tests", ">="),
    "load_error_rate": ("load", "<="),
    "load_p95_ms": ("load", "<="),
    "load_p99_ms": ("load", "<="),
    "load_min_rps": ("load", ">="),
    "chaos_recovery_s": ("chaos", "<="),
    "availability_min": ("availability", ">="),
    "coverage_min": ("coverage", ">="),
    "api_coverage_min": ("api_coverage", ">="),
    "security_max_high": ("security", "<="),
    "api_server_errors_max": ("fuzz", "<="),
    "api_contract_violations_max": ("fuzz", "<="),
    "regression": ("regression", "<="),
    "target_rss_mb_max": ("resources", "<="),
    "target_cpu_pct_max": ("resources", "<="),
    "target_rss_growth_mb_per_min_max": ("resources", "<="),
}
GATE_PHASES: dict[str, str] = {name: phase for name, (phase, _) in _META.items()}
_COMPARISONS: dict[str, Literal["<=", ">="]] = {name: cmp for name, (_, cmp) in _META.items()}


def evaluate_one(name: str, evidence: Evidence, threshold: float) -> GateResult:
    """The gate ``name`` on ``evidence`` at ``threshold`` (the readiness checklist judges
    its rows by the gates' own rules)."""
    return _GATES[name](evidence, threshold)


def _off(name: str, reason: str) -> GateResult:
    return GateResult(name, "off", None, None, _COMPARISONS[name], f"off: {reason}")


def evaluate_gates(
    settings: GateThresholds,
    evidence: Evidence,
    phases_off: Mapping[str, str] | None = None,
) -> tuple[GateResult, ...]:
    """Apply every configured gate to the evidence, in a stable order.

    A gate set to ``"off"`` is listed as off; so is every configured gate of a phase in
    ``phases_off`` (phase name -> why it did not run, e.g. ``load.enabled = false``).
    """
    off = phases_off or {}
    results = []
    for name, evaluate in _GATES.items():
        threshold = getattr(settings, name)
        if threshold is None:
            continue
        if threshold == OFF:
            results.append(_off(name, f'switched off in the config (gates.{name} = "off")'))
        elif GATE_PHASES[name] in off:
            results.append(
                _off(name, f"the {GATE_PHASES[name]} phase did not run ({off[GATE_PHASES[name]]})")
            )
        else:
            results.append(evaluate(evidence, float(threshold)))
    return tuple(results)


def test_slo_gate(suite: SuiteEvidence, slo: float) -> GateResult:
    """``test_slo``: each test decided on its own against ``slo`` (its one-sided 95% lower
    bound reaching it passes, its upper bound below it fails). One that fails fails the
    gate; one still undecided (or no test at all) leaves it insufficient, with the runs
    the least decided test still needs."""
    decided = [(t, stats.decide(t.passed, t.n, slo, CONFIDENCE)) for t in suite.tests]
    failed = [t for t, d in decided if d == "fail"]
    undecided = [t for t, d in decided if d == "insufficient"]
    passed = len(decided) - len(failed) - len(undecided)
    outcome: Outcome = "fail" if failed else "insufficient" if undecided or not decided else "pass"
    detail = (
        f"{len(decided)} test(s), each against slo {slo} on its own: {passed} shown to meet "
        f"it, {len(failed)} shown to miss it, {len(undecided)} not decided yet"
    )
    if failed:
        detail += "; missing it: " + ", ".join(f"{t.nodeid} {t.passed}/{t.n}" for t in failed[:5])
    needed = None
    if undecided and not failed:
        needed = max(stats.trials_needed(slo, t.passed, t.n, CONFIDENCE) for t in undecided)
        detail += f"; not enough evidence: up to {needed} more passing runs of a test needed"
    return GateResult("test_slo", outcome, None, slo, ">=", detail, suite.n, needed)


def overall_outcome(results: Sequence[GateResult]) -> Outcome:
    """fail if any gate failed; else insufficient if any could not decide, or if no gate
    judged anything (none configured, or every one off: never a pass); else pass."""
    outcomes = {r.outcome for r in results}
    if "fail" in outcomes:
        return "fail"
    if "insufficient" in outcomes or outcomes <= {"off"}:
        return "insufficient"
    return "pass"
