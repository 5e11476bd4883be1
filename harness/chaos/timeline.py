"""Reading a probe timeline: did the fault take effect, and when did the service recover.

Pure: takes probe samples, returns numbers. The runner records the samples.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["InjectionAnalysis", "ProbeSample", "analyse_injection"]

Phase = Literal["steady", "fault", "recovery"]


@dataclass(frozen=True, slots=True)
class ProbeSample:
    t_s: float  # seconds since the experiment started
    latency_ms: float | None  # None when the probe got no answer
    ok: bool  # status in the expected set and an answer at all
    phase: Phase

    def to_json(self) -> dict[str, object]:
        return {
            "t_s": round(self.t_s, 4),
            "latency_ms": self.latency_ms,
            "ok": self.ok,
            "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class InjectionAnalysis:
    steady_median_ms: float | None
    fault_median_ms: float | None
    effect_ms: float | None  # fault median minus steady median
    fault_error_rate: float
    effect_observed: bool
    detect_s: float | None  # injection -> first deviating probe
    recover_s: float | None  # fault removed -> first of `recovered_after` healthy probes
    total_s: float | None  # injection -> recovered
    recovered: bool
    detail: str


def _healthy(sample: ProbeSample, max_latency_ms: float) -> bool:
    return sample.ok and sample.latency_ms is not None and sample.latency_ms <= max_latency_ms


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _first_healthy_run(
    samples: Sequence[ProbeSample], max_latency_ms: float, run: int
) -> float | None:
    """When the first run of ``run`` consecutive healthy probes began, or None."""
    streak = 0
    first_healthy = 0.0
    for sample in samples:
        if not _healthy(sample, max_latency_ms):
            streak = 0
            continue
        streak += 1
        if streak == 1:
            first_healthy = sample.t_s
        if streak >= run:
            return first_healthy
    return None


def analyse_injection(
    samples: Sequence[ProbeSample],
    *,
    t_inject: float,
    t_remove: float,
    max_latency_ms: float,
    recovered_after: int,
    min_effect_ms: float | None,
    effect_at: float | None = None,
) -> InjectionAnalysis:
    """Effect and recovery of one injection from its probe timeline.

    The fault took effect when probes deviated from the steady state while it was on
    (errors, or latency past ``max_latency_ms``) and, for latency faults, when the median
    rose by at least ``min_effect_ms``. Recovery is the first run of ``recovered_after``
    consecutive healthy probes after the fault was removed.

    ``effect_at`` is when an effect was seen that a probe's health alone does not show
    (a killed pod container already restarted, its restart count up, by the first probe):
    it counts as an effect, detected at that time.
    """
    steady = [s for s in samples if s.phase == "steady"]
    fault = [s for s in samples if s.phase == "fault"]
    after = [s for s in samples if s.phase == "recovery"]

    steady_median = _median([s.latency_ms for s in steady if s.ok and s.latency_ms is not None])
    fault_latencies = [s.latency_ms for s in fault if s.latency_ms is not None]
    fault_median = _median(fault_latencies)
    effect_ms = (
        fault_median - steady_median
        if fault_median is not None and steady_median is not None
        else None
    )
    fault_errors = sum(1 for s in fault if not s.ok)
    fault_error_rate = fault_errors / len(fault) if fault else 0.0
    deviating = [s for s in fault if not _healthy(s, max_latency_ms)]

    if min_effect_ms is not None:
        effect_observed = effect_ms is not None and effect_ms >= min_effect_ms
        if fault_errors and not fault_latencies:
            effect_observed = True  # every probe failed: an effect, just not a measurable delay
    else:
        effect_observed = bool(deviating) or effect_at is not None
    seen = [t for t in (deviating[0].t_s if deviating else None, effect_at) if t is not None]
    detect_s = (min(seen) - t_inject) if seen else None

    recover_at = _first_healthy_run(after, max_latency_ms, recovered_after)
    recovered = recover_at is not None
    recover_s = max(0.0, recover_at - t_remove) if recover_at is not None else None
    total_s = (recover_at - t_inject) if recover_at is not None else None

    parts = [f"{len(fault)} probes under fault, {len(deviating)} deviating, {fault_errors} errors"]
    if effect_at is not None:
        parts.append(f"effect seen {effect_at - t_inject:.3f} s after injection")
    if effect_ms is not None:
        parts.append(f"median {steady_median:.2f} -> {fault_median:.2f} ms (+{effect_ms:.2f} ms)")
    if min_effect_ms is not None and not effect_observed:
        parts.append(f"expected at least +{min_effect_ms} ms: NO VISIBLE EFFECT")
    elif not effect_observed:
        parts.append("no probe deviated: NO VISIBLE EFFECT")
    parts.append(
        f"recovered {recover_s:.3f} s after removal" if recover_s is not None else "NOT recovered"
    )
    return InjectionAnalysis(
        steady_median_ms=steady_median,
        fault_median_ms=fault_median,
        effect_ms=effect_ms,
        fault_error_rate=fault_error_rate,
        effect_observed=effect_observed,
        detect_s=detect_s,
        recover_s=recover_s,
        total_s=total_s,
        recovered=recovered,
        detail="; ".join(parts),
    )
