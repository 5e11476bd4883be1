"""What the Markdown summary and the HTML page say, built once from report.json content.

Both renderings show the same figures in the same words: these functions turn sections
of a completed report (:func:`harness.report.document.complete`, which derives every figure
report.json does not carry) into rows of display strings, which ``markdown.render_markdown``
lays out as Markdown tables and ``html.render_html`` hands to its template. They only
read: no statistic is computed here. Pure: no I/O.

Every input is tolerated: a report of a crashed run, or one written by an older
version, may lack any field, and a missing figure is shown as ``-``, never as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import stats
from harness.report.document import interval_bounds
from harness.values import as_count as _count
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import as_number as _num

__all__ = [
    "MISSING",
    "availability_view",
    "AvailabilityView",
    "ChaosRow",
    "ChaosTotals",
    "ReadinessView",
    "SloRow",
    "ComparisonView",
    "GateRow",
    "chaos_rows",
    "chaos_totals",
    "comparison_view",
    "failure_line",
    "fault_text",
    "format_rate",
    "gate_rows",
    "history_skipped",
    "rate_text",
    "readiness_view",
    "service_name",
    "slo_rows",
    "significant",
    "trials_needed_text",
    "undecided_trials_needed",
]


MISSING = "-"


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


def service_name(report: Mapping[str, Any]) -> str:
    """What the run tested: the config's ``target.name``, else the reference API when the
    harness started it, else the target's URL."""
    if report.get("target_name"):
        return str(report["target_name"])
    target = _map(_map(report.get("components")).get("target"))
    if target.get("kind") == "embedded":
        return "the reference Moonbase API"
    return str(report.get("target_url") or "an unnamed service")


def fault_text(fault: Any) -> str:
    """``latency latency=100 jitter=0``: the fault's type and attributes, no Python repr."""
    f = _map(fault)
    attributes = " ".join(f"{k}={v}" for k, v in _map(f.get("attributes")).items())
    return " ".join(part for part in (str(f.get("type") or "?"), attributes) if part)


def rate_text(k: int, n: int, interval: Any = None) -> str:
    """``k/n [low, high]`` with the report's 95% interval; ``k/n`` alone when it has none."""
    bounds = interval_bounds(interval)
    if n <= 0 or bounds is None:
        return f"{min(k, n)}/{n}" if n > 0 else f"{k}/{n}"
    return f"{min(k, n)}/{n} [{bounds[0]:.4f}, {bounds[1]:.4f}]"


def format_rate(k: int, n: int, interval: Any) -> str:
    """``k/n [low, high] (95% CP)``: the report's interval with its method; ``k/n`` alone
    when the report carries none."""
    d = _map(interval)
    bounds = interval_bounds(d)
    if n <= 0 or bounds is None:
        return f"{min(k, n)}/{n}" if n > 0 else f"{k}/{n}"
    estimate = _num(d.get("estimate"))
    shown = stats.Interval(
        estimate if estimate is not None else min(k, n) / n,
        bounds[0],
        bounds[1],
        str(d.get("method") or "clopper-pearson"),
        _num(d.get("confidence")) or 0.95,
    )
    return stats.format_rate(min(k, n), n, shown)


# ------------------------------------------------------------------------------ tests


def undecided_trials_needed(test: Mapping[str, Any]) -> int | None:
    """The test's trials still needed while its decision is "insufficient"; else None.

    Once the evidence decides (pass or fail), more trials change nothing worth a number.
    The decision is the report's own (or the one :func:`document.complete` derived for an
    older report from k/n and its ``slo``); None without one.
    """
    needed = _count(test.get("trials_needed"))
    return needed if test.get("decision") == "insufficient" else None


def failure_line(test: Mapping[str, Any], limit: int = 200) -> str:
    """The first line worth reading of a test's first failure: pytest's first ``E`` line
    (``AssertionError: ...``), else the message's last line; empty for a test with none."""
    messages = [str(m) for m in _list(test.get("messages")) if m]
    if not messages:
        return ""
    lines = [line.strip() for line in messages[0].splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    line = errors[0] if errors else (lines[-1] if lines else "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def history_skipped(report: Mapping[str, Any]) -> list[str]:
    """The history.jsonl lines this run could not read (left out of its accumulated
    figures), each as ``FILE:LINE: why``."""
    return [str(line) for line in _list(_map(report.get("test_run")).get("history_skipped"))]


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
        """``>= 0.8``: the comparison and the threshold together (``-`` for a gate off)."""
        if self.threshold == MISSING:
            return MISSING
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


# ----------------------------------------------------------------------- availability


@dataclass(frozen=True, slots=True)
class AvailabilityView:
    """The whole-run prober's figures as display strings."""

    claim: str  # "0.999871 or more (one-sided 95% lower bound; point 1)"
    observed: str  # "612 s observed, 6,120 probes, 0 outages, 0 s down"
    needs: str  # "2,493 more hours with no outage to show 99.999%" or ""
    method: str
    assumption: str
    outages: tuple[tuple[str, str, str], ...]  # (start s, end s, duration s)
    observed_s: float


def availability_view(report: Mapping[str, Any]) -> AvailabilityView | None:
    a = _map(report.get("availability"))
    if not a:
        return None
    outages = tuple(
        (significant(o.get("start_s"), 4), significant(o.get("end_s"), 4),
         significant(o.get("duration_s")) + (" (ongoing)" if o.get("ongoing") else ""))
        for o in map(_map, _list(a.get("outages")))
    )  # fmt: skip
    lower, point = _num(a.get("lower")), _num(a.get("point"))
    claim = MISSING
    if lower is not None:
        # a lower bound is shown rounded down: a claim is never made larger by rounding
        shown = math.floor(lower * 1e6) / 1e6
        claim = f"{shown:.6f} or more (one-sided 95% lower bound; point {significant(point, 6)})"
    hours, objective = _num(a.get("hours_to_show")), _num(a.get("objective"))
    needs = ""
    if hours and objective is not None:
        needs = f"{hours:,.1f} more hours with no outage to show {objective:.6g}"
    observed_s = _num(a.get("observed_s")) or 0.0
    return AvailabilityView(
        claim=claim,
        observed=(
            f"{significant(observed_s, 4)} s observed, {_count(a.get('probes')) or 0:,} probes, "
            f"{len(outages)} outage(s), {significant(a.get('downtime_s'))} s down"
            + (f", {significant(a.get('not_observed_s'))} s not observed"
               if (_num(a.get("not_observed_s")) or 0) > 0 else "")
        ),
        needs=needs,
        method=str(a.get("method") or ""),
        assumption=str(a.get("assumption") or ""),
        outages=outages,
        observed_s=observed_s,
    )  # fmt: skip


# ------------------------------------------------------------------------------- SLOs


@dataclass(frozen=True, slots=True)
class SloRow:
    name: str
    indicator: str
    objective: str
    sli: str  # "4999/5000 [0.9989, 1.0000]" or "0.99987 [low, high]" (time-based)
    burn: str  # "0.2 [0, 0.6]"
    budget: str  # the share of the window's budget the run consumed
    windows: str  # "worst 5 s: 0; worst 30 s: 0"
    claim: str


def slo_rows(report: Mapping[str, Any]) -> list[SloRow]:
    rows = []
    for s in map(_map, _list(report.get("slos"))):
        low, high = (_list(s.get("sli_interval")) + [None, None])[:2]
        good, total = _count(s.get("good")), _count(s.get("total"))
        bounds = f"[{significant(low, 5)}, {significant(high, 5)}]"
        sli = (
            f"{good}/{total} {bounds}"
            if good is not None and total
            else (f"{significant(s.get('sli'), 6)} {bounds}")
        )
        b_low, b_high = (_list(s.get("burn_rate_bounds")) + [None, None])[:2]
        windows = "; ".join(
            f"worst {w.get('window_s')} s: {significant(w.get('burn_rate'))}"
            for w in map(_map, _list(s.get("worst_windows")))
        )
        rows.append(
            SloRow(
                name=str(s.get("name", "?")),
                indicator=str(s.get("indicator", "?")),
                objective=significant(s.get("objective"), 6),
                sli=sli,
                burn=f"{significant(s.get('burn_rate'))} "
                f"[{significant(b_low)}, {significant(b_high)}]",
                budget=significant(s.get("budget_consumed")),
                windows=windows or MISSING,
                claim=str(s.get("claim") or ""),
            )
        )
    return rows


# -------------------------------------------------------------------------- readiness


@dataclass(frozen=True, slots=True)
class ReadinessView:
    """The production-readiness checklist of report.json, as display strings."""

    verdict: str  # "ready" / "not ready" / "not shown yet"
    summary: str  # "3/11 rows passed, weighted score 0.27"
    rows: tuple[Mapping[str, str], ...]  # title, target, outcome, measured, needs, claim


def readiness_view(report: Mapping[str, Any]) -> ReadinessView | None:
    r = _map(report.get("readiness"))
    if not r:
        return None
    rows = tuple(
        {
            k: str(row.get(k) or ("-" if k == "needs" else ""))
            for k in ("title", "target", "outcome", "measured", "needs", "claim")
        }
        for row in map(_map, _list(r.get("rows")))
    )
    passed = sum(1 for row in rows if row["outcome"] == "pass")
    score = _num(r.get("score"))
    summary = f"{passed}/{len(rows)} rows passed" + (
        f", weighted score {score:.2f}" if score is not None else ""
    )
    return ReadinessView(str(r.get("verdict") or "not shown yet"), summary, rows)


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
    bounds = interval_bounds(summary.get("claim"))
    evidence = f"{within}/{n} within" + (f" [{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else "")
    decision = summary.get("claim_decision")
    if decision in ("pass", "fail"):
        return f"{claim}: {'shown' if decision == 'pass' else 'refuted'} ({evidence})"
    needed = _count(summary.get("trials_needed"))
    more = f"; {needed:,} more injections needed" if needed is not None else ""
    return f"{claim}: not yet shown ({evidence}{more})"


def chaos_rows(experiments: Any) -> list[ChaosRow]:
    rows = []
    for e in map(_map, _list(experiments)):
        error = "" if e.get("error") is None else str(e.get("error"))
        ran = e.get("status", "run") != "not_run"
        summary = _map(e.get("recovery_summary")) if ran else {}
        n = _count(summary.get("n")) or 0
        recovered = min(_count(summary.get("recovered")) or 0, n)
        rows.append(
            ChaosRow(
                name=str(e.get("name", "?")),
                ran=ran,
                fault=fault_text(e.get("fault")),
                effect_observed="yes" if e.get("effect_observed") is True else "no",
                recovered=rate_text(recovered, n, summary.get("recovered_rate"))
                if n
                else ("not run" if not ran else MISSING),
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


def chaos_totals(summary: Any) -> ChaosTotals | None:
    """The pooled figures of ``chaos_summary`` (a completed report's); None without one."""
    s = _map(summary)
    n = _count(s.get("n"))
    if not n:
        return None
    recovered = min(_count(s.get("recovered")) or 0, n)
    return ChaosTotals(
        rate=format_rate(recovered, n, s.get("recovered_rate")),
        recovery=_percentiles(s.get("p50_s"), s.get("p95_s"), s.get("max_s"), recovered, n),
        unrecovered=_count(s.get("unrecovered")) or 0,
        not_run=_count(s.get("not_run")) or 0,
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
