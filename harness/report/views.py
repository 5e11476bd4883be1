"""What the Markdown summary and the HTML page say, built once from report.json content.

Both renderings show the same figures in the same words: these functions turn sections
of report.json into rows of display strings, which ``markdown.render_markdown`` lays out
as Markdown tables and ``html.render_html`` hands to its template. Pure: no I/O.

Every input is tolerated: a report of a crashed run, or one written by an older
version, may lack any field, and a missing figure is shown as ``-``, never as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import stats
from harness.values import as_count as _count
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import as_number as _num

__all__ = [
    "MISSING",
    "ChaosRow",
    "ChaosTotals",
    "ComparisonView",
    "GateRow",
    "chaos_rows",
    "chaos_totals",
    "comparison_view",
    "fault_text",
    "gate_rows",
    "rate_text",
    "significant",
    "trials_needed_text",
    "undecided_trials_needed",
]


MISSING = "-"

# the claim every chaos experiment is judged against: "95% of recoveries within the limit"
CLAIM_SHARE = 0.95


def significant(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits, positional, without trailing zeros.

    ``0.0004617550002876669`` -> ``0.000462``, ``31.45`` -> ``31.4``, ``2.0`` -> ``2``;
    integer digits are never rounded away (``9123.4`` -> ``9123``); absent -> ``-``.
    """
    number = _num(value)
    if number is None:
        return MISSING
    if number == 0:
        return "0"
    rounded = float(f"{number:.{digits - 1}e}")  # round first: 0.0009996 is 0.001
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    if not decimals:
        return f"{number:.0f}"
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")


def fault_text(fault: Any) -> str:
    """``latency latency=100 jitter=0``: the fault's type and attributes, no Python repr."""
    f = _map(fault)
    attributes = " ".join(f"{k}={v}" for k, v in _map(f.get("attributes")).items())
    return " ".join(part for part in (str(f.get("type") or "?"), attributes) if part)


def _interval_text(data: Any, k: int, n: int) -> str:
    """``[low, high]`` from the report's interval, or Clopper-Pearson computed from k/n."""
    d = _map(data)
    low, high = _num(d.get("low")), _num(d.get("high"))
    if low is None or high is None:
        ci = stats.clopper_pearson(min(k, n), n)
        low, high = ci.low, ci.high
    return f"[{low:.4f}, {high:.4f}]"


def rate_text(k: int, n: int, interval: Any = None) -> str:
    """``k/n [low, high]``: the report's 95% interval, or Clopper-Pearson from k/n."""
    if n <= 0:
        return f"{k}/{n}"
    return f"{min(k, n)}/{n} {_interval_text(interval, k, n)}"


# ------------------------------------------------------------------------------ tests


def undecided_trials_needed(test: Mapping[str, Any]) -> int | None:
    """The test's trials still needed while its decision is "insufficient"; else None.

    Once the evidence decides (pass or fail), more trials change nothing worth a number.
    The decision is the report's own; a report without one is judged here from k/n
    against its ``slo``, and gives None when it carries no slo either.
    """
    needed = _count(test.get("trials_needed"))
    decision = test.get("decision")
    if decision is None:
        n, passed, slo = _count(test.get("n")), _count(test.get("passed")), _num(test.get("slo"))
        if n and passed is not None and slo is not None and 0 < slo < 1:
            decision = stats.decide(min(passed, n), n, slo)
    return needed if decision == "insufficient" else None


def trials_needed_text(test: Mapping[str, Any]) -> str:
    """``4,742`` while the test is undecided, ``-`` once it is pass or fail."""
    needed = undecided_trials_needed(test)
    return MISSING if needed is None else f"{needed:,}"


# ------------------------------------------------------------------------------ gates


@dataclass(frozen=True, slots=True)
class GateRow:
    name: str
    outcome: str
    observed: str  # the point estimate
    decided_on: str  # the figure the outcome was decided on, and which one it is
    comparison: str
    threshold: str
    detail: str

    @property
    def required(self) -> str:
        """``>= 0.8``: the comparison and the threshold together."""
        return f"{self.comparison} {self.threshold}".strip()


def gate_rows(gates: Any) -> list[GateRow]:
    rows = []
    for g in map(_map, _list(gates)):
        decided_on = significant(g.get("decided_on"), 4)
        if decided_on != MISSING and g.get("decided_by"):
            decided_on += f" ({g['decided_by']})"
        threshold = g.get("threshold")
        rows.append(
            GateRow(
                name=str(g.get("name", "?")),
                outcome=str(g.get("outcome", "insufficient")),
                observed=significant(g.get("observed"), 4),
                decided_on=decided_on,
                comparison=str(g.get("comparison", "")),
                threshold=MISSING if threshold is None else str(threshold),
                detail=str(g.get("detail", "")),
            )
        )
    return rows


# ------------------------------------------------------------------------------ chaos


@dataclass(frozen=True, slots=True)
class ChaosRow:
    """One experiment, over its injections: k/n recovered, p50/p95/max, the 95% claim."""

    name: str
    ran: bool
    fault: str
    effect_observed: str  # "yes" / "no"
    recovered: str  # "k/n [low, high]" over injections, or "not run"
    n: int
    recovery: str  # "p50 / p95 / max (n=3)": over the injections that recovered
    claim: str
    note: str  # the experiment's error, if any (not run, steady state not met, ...)


def _percentiles(p50: Any, p95: Any, max_s: Any, recovered: int, n: int) -> str:
    """``0.000535 / 0.00121 / 0.00121 (n=3)``; the n the percentiles are taken over."""
    if not recovered:
        return MISSING
    over = f"n={n}" if recovered == n else f"n={recovered} recovered of {n}"
    return f"{significant(p50)} / {significant(p95)} / {significant(max_s)} ({over})"


def _injection_recoveries(experiment: Mapping[str, Any]) -> list[float | None]:
    """Each injection's recovery time in seconds; None for one that never recovered."""
    times: list[float | None] = []
    for injection in map(_map, _list(experiment.get("injections"))):
        seconds = _num(injection.get("recover_s"))
        ok = injection.get("recovered") is not False and seconds is not None and seconds >= 0
        times.append(seconds if ok else None)
    return times


def _recovery_summary(experiment: Mapping[str, Any]) -> Mapping[str, Any]:
    """The experiment's ``recovery_summary``; for an older report, one computed alike."""
    carried = _map(experiment.get("recovery_summary"))
    if carried:
        return carried
    times = _injection_recoveries(experiment)
    if not times:
        return {}
    limit = _num(experiment.get("max_recovery_s"))
    return stats.summarize_recoveries(
        times, limit if limit is not None and limit >= 0 else None
    ).to_json()


def _claim_text(summary: Mapping[str, Any]) -> str:
    """The claim "95% of recoveries within the limit": shown, refuted, or what it still needs.

    ``95% of recoveries within 10 s: not yet shown (3/3 within [0.2924, 1.0000]; 56 more
    injections needed)``. Decided on the one-sided 95% bound, as ``trials_needed`` counts.
    """
    n, within = _count(summary.get("n")), _count(summary.get("within_limit"))
    if not n or within is None:
        return MISSING
    within = min(within, n)
    limit = _num(summary.get("limit_s"))
    claim = "95% of recoveries within " + (
        f"{significant(limit)} s" if limit is not None else "the limit"
    )
    evidence = f"{within}/{n} within {_interval_text(summary.get('claim'), within, n)}"
    decision = stats.decide(within, n, CLAIM_SHARE)
    if decision != "insufficient":
        return f"{claim}: {'shown' if decision == 'pass' else 'refuted'} ({evidence})"
    needed = _count(summary.get("trials_needed"))
    if needed is None:
        needed = stats.trials_needed(CLAIM_SHARE, within, n)
    return f"{claim}: not yet shown ({evidence}; {needed:,} more injections needed)"


def chaos_rows(experiments: Any) -> list[ChaosRow]:
    rows = []
    for e in map(_map, _list(experiments)):
        error = "" if e.get("error") is None else str(e.get("error"))
        ran = e.get("status", "run") != "not_run"
        summary = _recovery_summary(e) if ran else {}
        n = _count(summary.get("n")) or 0
        recovered = min(_count(summary.get("recovered")) or 0, n)
        rows.append(
            ChaosRow(
                name=str(e.get("name", "?")),
                ran=ran,
                fault=fault_text(e.get("fault")),
                effect_observed="yes" if e.get("effect_observed") is True else "no",
                recovered=rate_text(recovered, n) if n else ("not run" if not ran else MISSING),
                n=n,
                recovery=_percentiles(
                    summary.get("p50_s"),
                    summary.get("p95_s"),
                    summary.get("max_s"),
                    recovered,
                    n,
                ),
                claim=_claim_text(summary) if ran else "not run",
                note=error,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class ChaosTotals:
    """Every injection of every experiment that ran, pooled."""

    rate: str  # "k/n [low, high] (95% CP)"
    recovery: str  # "p50 / p95 / max (n=5)": over the injections that recovered
    unrecovered: int
    not_run: int


def chaos_totals(experiments: Any) -> ChaosTotals | None:
    times: list[float | None] = []
    not_run = 0
    for e in map(_map, _list(experiments)):
        if e.get("status") == "not_run":
            not_run += 1
        else:
            times += _injection_recoveries(e)
    if not times:
        return None
    s = stats.summarize_recoveries(times, limit_s=None)
    return ChaosTotals(
        rate=stats.format_rate(s.recovered, s.n, stats.clopper_pearson(s.recovered, s.n)),
        recovery=_percentiles(s.p50_s, s.p95_s, s.max_s, s.recovered, s.n),
        unrecovered=s.unrecovered,
        not_run=not_run,
    )


# ------------------------------------------------------------------------- comparison


@dataclass(frozen=True, slots=True)
class ComparisonView:
    """``report --compare``: the latency of this run against a baseline run."""

    baseline: str
    metric: str
    medians: str  # "before -> after"
    effect: str
    p_value: str
    min_effect: str
    noise: str
    test: str
    regressed: bool
    verdict: str  # "REGRESSED" / "no significant regression"


def comparison_view(report: Mapping[str, Any]) -> ComparisonView | None:
    c = _map(report.get("comparison"))
    if not c:
        return None
    metric = str(c.get("metric") or "load latency (ms)")
    # the unit is the metric's: "load latency (ms)" -> " ms"
    unit = " " + metric.rpartition("(")[2].rstrip(")") if metric.endswith(")") else ""

    def amount(key: str, sign: bool = False) -> str:
        value = _num(c.get(key))
        if value is None:
            return MISSING
        return ("+" if sign and value > 0 else "") + significant(value, 4) + unit

    p_value = _num(c.get("p_value"))
    regressed = c.get("regressed") is True
    noise = amount("noise")
    if noise != MISSING:
        noise += f" ({str(c.get('noise_method', 'iqr')).upper()} of the baseline)"
    return ComparisonView(
        baseline=str(c.get("baseline") or "?"),
        metric=metric,
        medians=f"{amount('baseline_median')} -> {amount('current_median')}",
        effect=amount("effect", sign=True),
        p_value=MISSING if p_value is None else f"{p_value:.3g}",
        min_effect=amount("min_effect"),
        noise=noise,
        test=str(c.get("test") or "Mann-Whitney U, one-sided"),
        regressed=regressed,
        verdict="REGRESSED" if regressed else "no significant regression",
    )
