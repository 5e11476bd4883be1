"""The gates on the target's memory and CPU (:mod:`harness.resources`). Pure.

- ``target_rss_mb_max``: the peak RSS of the whole run, sampled every ``interval_s``: a
  measured maximum, not an estimate (a peak between two samples can be missed; stated).
- ``target_cpu_pct_max``: the mean CPU under normal load (the load phase, or the soak), CPU
  seconds over wall seconds, as a percentage of the machine (or of one core, as the profile
  says): a total over the phase, not an estimate.
- ``target_rss_growth_mb_per_min_max``: the RSS slope over the load phase: passes when its
  95% upper bound is within the threshold, fails when its lower bound exceeds it, otherwise
  insufficient (a longer load phase would tell).

With no samples, or none under load, a gate is insufficient and says why; samples taken
while the target was down are counted and named, never read as low usage.
"""

from __future__ import annotations

from typing import Literal

from harness.decision import Decision
from harness.resources import CPU_BASIS_OF, MIN_GROWTH_SAMPLES, PhaseUsage, ResourceUsage

__all__ = ["cpu_gate", "growth_gate", "rss_gate"]

Outcome = Literal["pass", "fail", "insufficient"]


def _none(name: str, threshold: float, why: str) -> Decision:
    """Nothing to decide on; ``why`` starts with "no ..." (the checklist: not measured)."""
    return Decision(name, "insufficient", None, threshold, why)


def _down(usage: ResourceUsage) -> str:
    n = usage.down_samples
    return f"; the target was down at {n} sample(s), which count as nothing" if n else ""


def _checked(
    name: str, threshold: float, usage: ResourceUsage | None
) -> tuple[ResourceUsage, PhaseUsage] | Decision:
    """The usage and its whole-run figures, or the insufficient result saying why not."""
    if usage is None:
        return _none(name, threshold, "no resource samples: the target was not sampled")
    if usage.run is None:
        return _none(name, threshold, "no sample of a running target" + _down(usage))
    return usage, usage.run


def rss_gate(usage: ResourceUsage | None, threshold: float) -> Decision:
    name = "target_rss_mb_max"
    checked = _checked(name, threshold, usage)
    if isinstance(checked, Decision):
        return checked
    usage, run = checked
    peak = run.rss_peak_mb
    outcome: Outcome = "pass" if peak <= threshold else "fail"
    detail = (
        f"peak RSS {peak:.1f} MB (p95 {run.rss_p95_mb:.1f} MB) in {run.samples} samples, "
        f"one every {usage.interval_s:g} s ({usage.source}), against <= {threshold:g} MB"
        + _down(usage)
    )
    return Decision(
        name, outcome, peak, threshold, detail, run.samples, peak,
        f"highest sample (every {usage.interval_s:g} s)",
    )  # fmt: skip


def cpu_gate(usage: ResourceUsage | None, threshold: float) -> Decision:
    name = "target_cpu_pct_max"
    checked = _checked(name, threshold, usage)
    if isinstance(checked, Decision):
        return checked
    usage = checked[0]
    phase = usage.under_load
    if phase is None or phase.samples < 2:
        return _none(name, threshold, "no load phase to measure CPU under load" + _down(usage))
    basis = CPU_BASIS_OF[usage.cpu_basis]
    mean = usage.cpu_pct(phase)
    outcome: Outcome = "pass" if mean <= threshold else "fail"
    detail = (
        f"mean CPU {mean:.1f}% of {basis} ({usage.cpu_count} cores) over the {phase.name} "
        f"phase ({phase.seconds:.0f} s; p95 of {usage.interval_s:g} s intervals "
        f"{phase.cpu_p95_core_pct:.1f}% of one core), against <= {threshold:g}%" + _down(usage)
    )
    return Decision(
        name, outcome, mean, threshold, detail, phase.samples, mean,
        f"CPU seconds / wall seconds over the {phase.name} phase",
    )  # fmt: skip


def growth_gate(usage: ResourceUsage | None, threshold: float) -> Decision:
    name = "target_rss_growth_mb_per_min_max"
    checked = _checked(name, threshold, usage)
    if isinstance(checked, Decision):
        return checked
    usage = checked[0]
    g = usage.growth
    if g is None or g.samples < MIN_GROWTH_SAMPLES:
        seen = 0 if g is None else g.samples
        return Decision(
            name, "insufficient", None, threshold,
            f"{seen} sample(s) under load; not enough evidence: a leak check needs >= "
            f"{MIN_GROWTH_SAMPLES}", seen,
        )  # fmt: skip
    detail = (
        f"RSS slope {g.slope_mb_per_min:+.3f} MB/min over the {g.phase} phase ({g.samples} "
        f"samples), two-sided 95% interval [{g.low:+.3f}, {g.high:+.3f}], against <= "
        f"{threshold:g} MB/min"
    )
    if g.high <= threshold:
        outcome: Outcome = "pass"
        decided_on, by = g.high, "95% upper bound of the slope"
    elif g.low > threshold:
        outcome, decided_on, by = "fail", g.low, "95% lower bound of the slope"
    else:
        outcome, decided_on, by = "insufficient", g.high, "95% upper bound of the slope"
        detail += "; not enough evidence: a longer load phase would narrow the interval"
    return Decision(name, outcome, g.slope_mb_per_min, threshold, detail, g.samples, decided_on, by)
