"""The production-readiness checklist: one row per success metric, and the verdict. Pure.

The users' checklist (reliability target 99.999%; uptime, error rate < 0.001%, p95 < 10 ms,
recovery < 30 s, > 1,000 req/s, < 512 MB, < 50% CPU; test success > 99.5%, coverage > 95%,
regression 0%, security 0 critical/high) is judged row by row on the run's evidence, each
row by the same rules as the gates (:mod:`harness.gates`): pass on the bound that shows it,
fail on the bound that refutes it, otherwise insufficient with what more it would take.

A row whose measurement the harness does not make (yet), or that the profile switches off,
reads ``not measured``, with why: never a pass. The verdict is ``ready`` only when every row
passed, ``not ready`` as soon as one failed, and ``not shown yet`` otherwise. The score is the
weighted share of rows passed (unmeasured rows count against it), shown beside the verdict
and never instead of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from harness.gates import GATE_PHASES, OFF, Evidence, GateResult, evaluate_one

__all__ = [
    "ROWS",
    "Checklist",
    "ChecklistThresholds",
    "Row",
    "RowOutcome",
    "evaluate_checklist",
]

RowOutcome = Literal["pass", "fail", "insufficient", "not measured"]
Verdict = Literal["ready", "not ready", "not shown yet"]


class ChecklistThresholds(Protocol):
    """The profile's ``[readiness]`` table (harness.config.ReadinessSettings)."""

    def threshold(self, key: str) -> float | str | None: ...
    def weight(self, key: str) -> float: ...


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    title: str
    gate: str | None  # the gate whose rule judges it; None: not measured by this harness
    target: Callable[[float], str]  # the threshold as the checklist says it
    unit: str  # what "trials needed" counts for this row
    claim: str  # which claim its number supports
    why_not: str = ""  # for a row this harness does not measure
    scale: float = 1.0  # the row's threshold x scale is its gate's (cpu: 0.5 -> 50%)


def _pct(value: float) -> str:
    return f"{value * 100:.6g}%"


ROWS: tuple[_Spec, ...] = (
    _Spec(
        "uptime", "Uptime", "availability_min", lambda t: f">= {_pct(t)} of the time", "",
        "the time the whole-run prober saw the service available (outages as events); "
        "not a load window's request success",
    ),
    _Spec(
        "error_rate", "Error rate", "load_error_rate", lambda t: f"< {_pct(t)} of requests",
        "clean requests", "the requests of this run's load phase, at its rate, in its window",
    ),
    _Spec(
        "p95_ms", "Response time p95", "load_p95_ms", lambda t: f"< {t:g} ms", "samples",
        "the latency of this run's load phase, from the intended send time",
    ),
    _Spec(
        "recovery_s", "Recovery time", "chaos_recovery_s", lambda t: f"< {t:g} s",
        "injections", "every fault injection of this run's chaos phase",
    ),
    _Spec(
        "throughput_rps", "Throughput", "load_min_rps", lambda t: f"> {t:,.0f} req/s",
        "", "the rate this run's load phase achieved (its intended rate caps it)",
    ),
    _Spec(
        "memory_mb", "Memory", "target_rss_mb_max", lambda t: f"< {t:g} MB", "",
        "the peak resident memory of the target's processes over the whole run, sampled",
    ),
    _Spec(
        "cpu", "CPU", "target_cpu_pct_max", lambda t: f"< {_pct(t)}", "",
        "the target's mean CPU over this run's load phase (its 'normal load')", scale=100.0,
    ),
    _Spec(
        "test_success", "Test success", "test_success", lambda t: f"> {_pct(t)} of runs",
        "passing runs", "every run of every selected test, and each test on its own",
    ),
    _Spec(
        "coverage", "Code coverage", "coverage_min", lambda t: f"> {_pct(t)}", "",
        "the target's code, by every selected test (each category: the coverage section)",
        scale=100.0,
    ),
    _Spec(
        "regression", "Performance regression", "regression", lambda t: f"{t:g} flagged", "",
        "latency, throughput, pass rate and recovery against a baseline run (--baseline)",
    ),
    _Spec(
        "security", "Security", "security_max_high", lambda t: f"{t:g} critical/high", "",
        "the target's code (bandit, SARIF) and its dependencies (a scanner's report or "
        "pip-audit), both: a part off in the profile leaves the row undecided",
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    title: str
    target: str  # "< 10 ms"
    outcome: RowOutcome
    measured: str  # what was measured, with its interval, or why nothing was
    needs: str  # for an undecided row: what it would take; else ""
    claim: str  # which claim the number supports
    weight: float

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "target": self.target,
            "outcome": self.outcome,
            "measured": self.measured,
            "needs": self.needs,
            "claim": self.claim,
            "weight": self.weight,
        }


@dataclass(frozen=True, slots=True)
class Checklist:
    rows: tuple[Row, ...]

    @property
    def verdict(self) -> Verdict:
        outcomes = {r.outcome for r in self.rows}
        if "fail" in outcomes:
            return "not ready"
        if outcomes == {"pass"}:
            return "ready"
        return "not shown yet"

    @property
    def score(self) -> float:
        """The weighted share of rows passed; unmeasured and undecided rows count against."""
        total = sum(r.weight for r in self.rows)
        passed = sum(r.weight for r in self.rows if r.outcome == "pass")
        return passed / total if total else 0.0

    def to_json(self) -> dict[str, object]:
        counts = {o: sum(1 for r in self.rows if r.outcome == o) for o in _OUTCOMES}
        return {
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "score_means": "weighted share of rows passed; never instead of the verdict",
            "counts": counts,
            "rows": [r.to_json() for r in self.rows],
        }


_OUTCOMES: tuple[RowOutcome, ...] = ("pass", "fail", "insufficient", "not measured")


def _needs(result: GateResult, unit: str) -> str:
    if result.outcome != "insufficient":
        return ""
    if result.trials_needed is not None and unit:
        return f"{result.trials_needed:,} more {unit}"
    return result.detail.rsplit("; ", 1)[-1].removeprefix("not enough evidence: ")


def _measured_row(spec: _Spec, threshold: float, evidence: Evidence, weight: float) -> Row:
    assert spec.gate is not None
    result = evaluate_one(spec.gate, evidence, threshold * spec.scale)
    if result.detail.startswith("no ") and result.outcome == "insufficient" and not result.n:
        return Row(
            spec.key, spec.title, spec.target(threshold), "not measured",
            f"not measured: {result.detail} in this run", "", spec.claim, weight,
        )  # fmt: skip
    outcome: RowOutcome = "not measured" if result.outcome == "off" else result.outcome
    # what it would take has a column of its own: the measured figure without it
    measured = result.detail.split("; not enough evidence:", 1)[0]
    if result.outcome == "off":  # the gate decided nothing, and says why
        measured = "not measured: " + measured.removeprefix("off: ")
    return Row(
        spec.key, spec.title, spec.target(threshold), outcome, measured,
        _needs(result, spec.unit), spec.claim, weight,
    )  # fmt: skip


def evaluate_checklist(
    thresholds: ChecklistThresholds,
    evidence: Evidence,
    phases_off: Mapping[str, str] | None = None,
) -> Checklist:
    """Judge every row of the checklist on ``evidence``; see the module docstring."""
    off = phases_off or {}
    # the recovery row judges each experiment by the one limit its gate and section use
    # (its own, or the row's threshold when that is tighter), and says which it was
    plain = evidence
    rows = []
    for spec in ROWS:
        threshold = thresholds.threshold(spec.key)
        weight = thresholds.weight(spec.key)
        if threshold is None or threshold == OFF:
            rows.append(_not_measured(spec, "switched off in the profile", threshold, weight))
        elif spec.gate is None:
            rows.append(_not_measured(spec, spec.why_not, threshold, weight))
        elif (phase := GATE_PHASES[spec.gate]) in off:
            rows.append(_not_measured(spec, f"the {phase} phase did not run", threshold, weight))
        elif spec.key == "throughput_rps" and (capped := _capped(evidence, float(threshold))):
            rows.append(_not_measured(spec, capped, threshold, weight))
        elif spec.key == "security":
            rows.append(_measured_row(spec, float(threshold), _whole_scan(plain), weight))
        else:
            rows.append(_measured_row(spec, float(threshold), plain, weight))
    return Checklist(tuple(rows))


def _whole_scan(evidence: Evidence) -> Evidence:
    """The security row claims the code and the dependencies: a part a profile switched off
    (which its gate may skip, saying so) is no data for the row."""
    scan = evidence.security
    if scan is None:
        return evidence
    parts = {}
    for name in ("code", "dependencies"):
        part = getattr(scan, name)
        if part.off:
            parts[name] = replace(part, off="", why_none=f"{part.off}; the checklist asks for it")
    return replace(evidence, security=replace(scan, **parts)) if parts else evidence


def _capped(evidence: Evidence, threshold: float) -> str:
    """Why the throughput row cannot be shown: the load asked for less than the threshold."""
    load = evidence.load
    if load is None or not 0 < load.intended_rps < threshold:
        return ""
    return (
        f"the load phase asked for only {load.intended_rps:,.0f} req/s; a run at >= "
        f"{threshold:,.0f} req/s intended (or the closed model, rate_rps = 0) can show it"
    )


def _not_measured(spec: _Spec, why: str, threshold: float | str | None, weight: float) -> Row:
    target = spec.target(float(threshold)) if isinstance(threshold, int | float) else "-"
    return Row(
        spec.key, spec.title, target, "not measured", f"not measured: {why}", "", spec.claim,
        weight,
    )  # fmt: skip
