"""Service-level objectives: the SLI with its interval, the error budget a run consumed, and
the burn rate. Pure.

An SLO is data in the profile (``[[profiles.X.slos]]``, :class:`harness.config.SloSettings`).
Per SLO and run:

- the SLI: good events / events (``request_success``: load requests that did not fail;
  ``latency_under``: load requests answered within ``threshold_ms``, read off the merged
  HdrHistogram, a bucket counted good only when all of it is under the threshold) with its
  two-sided 95% Clopper-Pearson interval; or the time available (``availability``: the
  whole-run prober's figure, outages as events, :mod:`harness.availability`);
- the burn rate: the error ratio over the error budget, ``(1 - SLI) / (1 - objective)``,
  with one-sided 95% bounds (1 spends the budget exactly over the window; 14.4 spends 2% of
  a 30-day budget in an hour, the SRE workbook's page-now threshold; 6 and 1 its slower
  ones);
- the share of the window's error budget the run consumed: burn x run time / window;
- for request SLOs, the worst burn rate over short sliding windows of the load's timeline
  (5 s and 30 s), the multiwindow view of the same run;
- with ``max_burn_rate``, a gate ``slo_<name>``: passes when the burn rate's upper bound is
  at most it, fails when its lower bound exceeds it, otherwise insufficient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from harness import stats
from harness.gates import GateResult, Outcome

if TYPE_CHECKING:
    from harness.availability import Availability
    from harness.config import SloSettings
    from harness.load.result import LoadResult

__all__ = ["BURN_THRESHOLDS", "SHORT_WINDOWS_S", "SloResult", "evaluate_slos", "slo_gates"]

# the SRE workbook's multiwindow, multi-burn-rate thresholds: page at 14.4 and 6, ticket at 1
BURN_THRESHOLDS: tuple[float, ...] = (14.4, 6.0, 1.0)
SHORT_WINDOWS_S: tuple[int, ...] = (5, 30)
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class WindowBurn:
    window_s: int
    burn: float  # the worst window's burn rate (point estimate)
    bad: int
    total: int


@dataclass(frozen=True, slots=True)
class SloResult:
    name: str
    indicator: str
    objective: float
    window_days: float
    sli: float
    sli_low: float
    sli_high: float
    burn: float
    burn_low: float
    burn_high: float
    run_s: float  # the time the SLI covers
    good: int | None = None  # events (None for the time-based availability SLI)
    total: int | None = None
    windows: tuple[WindowBurn, ...] = ()
    max_burn_rate: float | None = None
    claim: str = ""

    @property
    def budget_share(self) -> float:
        """The share of the window's error budget this run consumed (burn x time/window)."""
        return self.burn * self.run_s / (self.window_days * 86_400.0)

    def gate(self) -> GateResult | None:
        if self.max_burn_rate is None:
            return None
        limit = self.max_burn_rate
        name = f"slo_{self.name}"
        if self.burn_high <= limit:
            outcome: Outcome = "pass"
            decided_on, decided_by = self.burn_high, "one-sided 95% upper bound"
        elif self.burn_low > limit:
            outcome = "fail"
            decided_on, decided_by = self.burn_low, "one-sided 95% lower bound"
        else:
            outcome = "insufficient"
            decided_on, decided_by = self.burn_high, "one-sided 95% upper bound"
        needed = None
        if outcome == "insufficient" and self.good is not None and self.total is not None:
            # clean events until the error ratio's upper bound is within the allowed burn
            allowed = min(limit * (1.0 - self.objective), 1.0 - 1e-12)
            needed = stats.trials_needed(1.0 - allowed, self.good, self.total, CONFIDENCE)
        detail = (
            f"burn rate {self.burn:.3g} (one-sided 95% bounds [{self.burn_low:.3g}, "
            f"{_ceil(self.burn_high)}]) against <= {limit:g}; SLI {self.sli:.6g} for objective "
            f"{self.objective:g}"
        )
        if needed is not None:
            detail += f"; not enough evidence: {needed} more good events needed"
        return GateResult(
            name, outcome, self.burn, limit, "<=", detail, self.total or 0, needed,
            decided_on, decided_by,
        )  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "indicator": self.indicator,
            "objective": self.objective,
            "window_days": self.window_days,
            "good": self.good,
            "total": self.total,
            "sli": self.sli,
            "sli_interval": [self.sli_low, self.sli_high],
            "burn_rate": self.burn,
            "burn_rate_bounds": [self.burn_low, self.burn_high],
            "budget_consumed": self.budget_share,
            "run_s": round(self.run_s, 3),
            "worst_windows": [
                {"window_s": w.window_s, "burn_rate": w.burn, "bad": w.bad, "total": w.total}
                for w in self.windows
            ],
            "burn_thresholds": list(BURN_THRESHOLDS),
            "max_burn_rate": self.max_burn_rate,
            "claim": self.claim,
        }


def _ceil(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3g}"


def _counted(slo: SloSettings, good: int, total: int, run_s: float, claim: str) -> SloResult | None:
    if total <= 0:
        return None
    bad = total - good
    budget = 1.0 - slo.objective
    ci = stats.clopper_pearson(good, total, CONFIDENCE)
    return SloResult(
        name=slo.name,
        indicator=slo.indicator,
        objective=slo.objective,
        window_days=slo.window_days,
        sli=good / total,
        sli_low=ci.low,
        sli_high=ci.high,
        burn=(bad / total) / budget,
        burn_low=stats.lower_bound(bad, total, CONFIDENCE) / budget if bad else 0.0,
        burn_high=stats.upper_bound(bad, total, CONFIDENCE) / budget,
        run_s=run_s,
        good=good,
        total=total,
        max_burn_rate=slo.max_burn_rate,
        claim=claim,
    )


def _worst_windows(load: LoadResult, objective: float) -> tuple[WindowBurn, ...]:
    """The worst burn rate over sliding windows of the load's per-second timeline (a
    window starting at each second; one pass per window length, as a soak has hours)."""
    points = sorted(load.timeline, key=lambda p: p.t_s)
    out = []
    for window in SHORT_WINDOWS_S:
        worst: WindowBurn | None = None
        end = total = bad = 0
        for start in points:
            while end < len(points) and points[end].t_s < start.t_s + window:
                total += points[end].requests
                bad += points[end].failures
                end += 1
            if total and (worst is None or bad / total > worst.bad / max(worst.total, 1)):
                worst = WindowBurn(window, (bad / total) / (1 - objective), bad, total)
            total -= start.requests  # the window moves past this second
            bad -= start.failures
        if worst is not None:
            out.append(worst)
    return tuple(out)


def _good_under(load: LoadResult, threshold_ms: float) -> int:
    from harness.load.histogram import decode_histogram

    limit_us = threshold_ms * 1000.0
    histogram = decode_histogram(load.histogram)
    return sum(
        item.count_added_in_this_iter_step
        for item in histogram.get_recorded_iterator()
        if item.value_iterated_to <= limit_us
    )


def evaluate_slos(
    slos: Sequence[SloSettings],
    load: LoadResult | None,
    availability: Availability | None,
) -> tuple[SloResult, ...]:
    """Every SLO the run has data for, in the order the profile names them."""
    results = []
    for slo in slos:
        result: SloResult | None = None
        if slo.indicator == "availability" and availability is not None:
            if availability.observed_s > 0:
                budget = 1.0 - slo.objective
                result = SloResult(
                    name=slo.name,
                    indicator=slo.indicator,
                    objective=slo.objective,
                    window_days=slo.window_days,
                    sli=availability.point,
                    sli_low=availability.lower,
                    sli_high=availability.upper,
                    burn=(1 - availability.point) / budget,
                    burn_low=(1 - availability.upper) / budget,
                    burn_high=(1 - availability.lower) / budget,
                    run_s=availability.observed_s,
                    max_burn_rate=slo.max_burn_rate,
                    claim="the time the whole-run prober saw the service available",
                )
        elif load is not None and slo.indicator == "request_success":
            claim = "the requests of this run's load phase, at its rate, in its window"
            result = _counted(
                slo, load.requests - load.failures, load.requests, load.duration_s, claim
            )
            if result is not None:
                result = replace(result, windows=_worst_windows(load, slo.objective))
        elif load is not None and slo.indicator == "latency_under":
            assert slo.threshold_ms is not None
            claim = f"the load's requests answered within {slo.threshold_ms:g} ms"
            good = _good_under(load, slo.threshold_ms)
            result = _counted(slo, good, load.samples or load.requests, load.duration_s, claim)
        if result is not None:
            results.append(result)
    return tuple(results)


def slo_gates(
    slos: Sequence[SloSettings],
    results: Sequence[SloResult],
    phases_off: Mapping[str, str] | None = None,
) -> tuple[GateResult, ...]:
    """A gate per SLO that names ``max_burn_rate``; one without data is off (its phase did
    not run) or insufficient (nothing measured), never silently absent."""
    by_name = {r.name: r for r in results}
    off = phases_off or {}
    gates = []
    for slo in slos:
        if slo.max_burn_rate is None:
            continue
        result = by_name.get(slo.name)
        gate = result.gate() if result is not None else None
        if gate is not None:
            gates.append(gate)
            continue
        phase = "availability" if slo.indicator == "availability" else "load"
        name = f"slo_{slo.name}"
        if phase in off:
            gates.append(
                GateResult(name, "off", None, None, "<=", f"off: the {phase} phase did not run")
            )
        else:
            gates.append(
                GateResult(
                    name,
                    "insufficient",
                    None,
                    slo.max_burn_rate,
                    "<=",
                    f"no {slo.indicator} data measured",
                )  # fmt: skip
            )
    return tuple(gates)
