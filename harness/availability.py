"""Availability from a probe timeline: outages as events, not probes as trials. Pure.

Probes close in time are not independent trials: one outage fails many of them in a row,
so a binomial interval over probes would claim far more than is known. Here an *outage* is
a run of failed probes (from the first failed probe to the first good one after it), and
the outages are the events:

- the outage rate is bounded by the exact one-sided Poisson bound on the number of outages
  seen in the observed time (none seen in T: about 3 / T at 95%);
- the downtime fraction is bounded by that rate times an outage's duration: the longest one
  observed, or, when none was seen, the assumed duration (the recovery objective, 30 s by
  default), which the report states;
- the availability claimed is 1 minus that bound: the lower bound, never the point estimate;
- demonstrating an objective A, with no further outage, takes the observed time T' at which
  the bound reaches 1 - A; the hours still needed are T' minus what was observed.

The assumption behind the bound: outages arrive as a Poisson process at a steady rate, and
last no longer than the duration used. A gap in the timeline (the prober was not running)
is not observed time: it is neither uptime nor downtime.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness import stats
from harness.decision import Decision

__all__ = [
    "CONFIDENCE",
    "Availability",
    "Outage",
    "ProbePoint",
    "analyse_probes",
    "availability_gate",
]

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class ProbePoint:
    t_s: float  # seconds since the prober started
    ok: bool


@dataclass(frozen=True, slots=True)
class Outage:
    start_s: float  # the first failed probe
    end_s: float  # the first good probe after it (or the end of observation)
    probes: int  # failed probes in it
    ongoing: bool = False  # still down when observation ended

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, object]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "duration_s": round(self.duration_s, 3),
            "failed_probes": self.probes,
            "ongoing": self.ongoing,
        }


@dataclass(frozen=True, slots=True)
class Availability:
    observed_s: float
    probes: int
    failed_probes: int
    outages: tuple[Outage, ...]
    gaps_s: float  # time not observed (the prober was away): neither up nor down
    assumed_outage_s: float  # the duration the bound uses when none was observed
    gap_spans: tuple[tuple[float, float], ...] = ()  # (start, end) of each gap
    origin_epoch: float | None = None  # the wall clock (epoch s) of t_s = 0: the first probe

    @property
    def downtime_s(self) -> float:
        return sum(o.duration_s for o in self.outages)

    @property
    def point(self) -> float:
        """The time fraction available in this observation (not a claim)."""
        return 1.0 - self.downtime_s / self.observed_s if self.observed_s > 0 else 0.0

    @property
    def bound_outage_s(self) -> float:
        """The outage duration the bound uses: the longest seen, else the assumption."""
        return max((o.duration_s for o in self.outages), default=self.assumed_outage_s)

    @property
    def rate_upper_per_s(self) -> float:
        if self.observed_s <= 0:
            return math.inf
        return stats.poisson_rate_upper(len(self.outages), self.observed_s, CONFIDENCE)

    @property
    def lower(self) -> float:
        """The availability claimed: the one-sided 95% lower bound (see the module)."""
        return max(0.0, 1.0 - self.rate_upper_per_s * self.bound_outage_s)

    @property
    def upper(self) -> float:
        """The one-sided 95% upper bound: 1 minus the lowest outage rate the count allows
        times the shortest outage seen (1 when none was seen)."""
        if not self.outages or self.observed_s <= 0:
            return 1.0
        rate = stats.poisson_rate_lower(len(self.outages), self.observed_s, CONFIDENCE)
        return max(0.0, 1.0 - rate * min(o.duration_s for o in self.outages))

    @property
    def mttr_s(self) -> float | None:
        ended = [o.duration_s for o in self.outages if not o.ongoing]
        return sum(ended) / len(ended) if ended else None

    @property
    def mtbf_s(self) -> float | None:
        """Observed up time per outage; None without an outage."""
        if not self.outages:
            return None
        return (self.observed_s - self.downtime_s) / len(self.outages)

    def hours_to_show(self, objective: float) -> float:
        """More observed hours, with no further outage, before the lower bound reaches
        ``objective``; 0 when it already does."""
        if not 0 < objective < 1:
            raise ValueError(f"invalid objective={objective!r}: must be in (0, 1)")
        needed_s = (
            stats.poisson_rate_upper(len(self.outages), 1.0, CONFIDENCE)
            * self.bound_outage_s
            / (1.0 - objective)
        )
        return max(0.0, needed_s - self.observed_s) / 3600.0

    def to_json(self, objective: float | None = None) -> dict[str, object]:
        body: dict[str, object] = {
            "observed_s": round(self.observed_s, 3),
            "probes": self.probes,
            "failed_probes": self.failed_probes,
            "not_observed_s": round(self.gaps_s, 3),
            "point": self.point,
            "lower": self.lower,
            "upper": self.upper,
            "confidence": CONFIDENCE,
            "downtime_s": round(self.downtime_s, 3),
            "outages": [o.to_json() for o in self.outages],
            "not_observed": [
                {"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self.gap_spans
            ],
            "longest_outage_s": max((o.duration_s for o in self.outages), default=0.0),
            "mttr_s": self.mttr_s,
            "mtbf_s": self.mtbf_s,
            "method": (
                "outages as events: exact one-sided Poisson upper bound on the outage rate "
                "x the longest outage observed (or the assumed duration when none was)"
            ),
            "assumption": (
                "outages arrive at a steady rate (Poisson) and last no longer than "
                f"{self.bound_outage_s:g} s"
                + ("" if self.outages else " (assumed: no outage was observed)")
            ),
        }
        if self.origin_epoch is not None:
            body["origin_epoch"] = round(self.origin_epoch, 3)
        if objective is not None:
            body["objective"] = objective
            body["hours_to_show"] = self.hours_to_show(objective)
        return body


def analyse_probes(
    points: Sequence[ProbePoint],
    *,
    interval_s: float,
    assumed_outage_s: float = 30.0,
    max_gap_factor: float = 5.0,
    origin_epoch: float | None = None,
) -> Availability:
    """Outages, observed time and gaps of a probe timeline (probes every ``interval_s``).

    A silence longer than ``max_gap_factor`` intervals between two probes is a gap: the
    prober was away (restarted, stalled), so that time is not observed. ``origin_epoch``
    is the wall clock of ``t_s = 0``, which places the timeline among the run's phases.
    """
    if interval_s <= 0:
        raise ValueError(f"invalid interval_s={interval_s!r}: must be > 0")
    ordered = sorted(points, key=lambda p: p.t_s)
    outages: list[Outage] = []
    observed = gaps = 0.0
    gap_spans: list[tuple[float, float]] = []
    start: float | None = None
    failed = run = 0
    for previous, point in zip(ordered, ordered[1:], strict=False):
        step = point.t_s - previous.t_s
        if step > max_gap_factor * interval_s:
            gaps += step
            gap_spans.append((previous.t_s, point.t_s))
        else:
            observed += step
    for point in ordered:
        if not point.ok:
            failed += 1
            if start is None:
                start, run = point.t_s, 0
            run += 1
        elif start is not None:
            outages.append(Outage(start, point.t_s, run))
            start = None
    if start is not None:
        end = ordered[-1].t_s + interval_s
        observed += interval_s
        outages.append(Outage(start, end, run, ongoing=True))
    return Availability(
        observed_s=observed,
        probes=len(ordered),
        failed_probes=failed,
        outages=tuple(outages),
        gaps_s=gaps,
        assumed_outage_s=assumed_outage_s,
        gap_spans=tuple(gap_spans),
        origin_epoch=origin_epoch,
    )


def availability_gate(a: Availability | None, threshold: float) -> Decision:
    """``availability_min``: the time fraction available over the whole run, on outages as
    events: passes on its lower bound, fails on its upper bound."""
    name = "availability_min"
    if a is None or a.observed_s <= 0:
        return Decision(name, "insufficient", None, threshold, "no probe timeline measured")
    lower, upper = a.lower, a.upper
    outages = len(a.outages)
    # shown rounded outwards: rounding never makes a bound claim more than it does
    low_shown, high_shown = math.floor(lower * 1e6) / 1e6, math.ceil(upper * 1e6) / 1e6
    detail = (
        f"{a.point:.6f} of {a.observed_s:.0f} s observed available ({outages} outage(s), "
        f"{a.downtime_s:.1f} s down); one-sided 95% bounds [{low_shown:.6f}, {high_shown:.6f}] "
        f"against >= {threshold} (outages as events, Poisson)"
    )
    lower_by, upper_by = "one-sided 95% lower bound", "one-sided 95% upper bound"
    if lower >= threshold:
        return Decision(name, "pass", a.point, threshold, detail, outages, lower, lower_by)
    if upper < threshold:
        return Decision(name, "fail", a.point, threshold, detail, outages, upper, upper_by)
    hours = a.hours_to_show(threshold)
    detail += f"; not enough evidence: {hours:,.1f} more hours with no outage needed"
    return Decision(name, "insufficient", a.point, threshold, detail, outages, lower, lower_by)
