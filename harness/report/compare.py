"""``report --compare``: this run's load latency against a baseline run's.

Both runs' latency samples come from the merged HdrHistogram each report.json carries
(``load.histogram_encoded``); :func:`harness.stats.compare_samples` judges them
(Mann-Whitney U, one-sided, flagged only above the declared minimum effect). The result is
the report's ``comparison`` section, which every renderer shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import stats
from harness.values import as_map

__all__ = ["MAX_SAMPLES", "Comparison", "compare_runs", "latency_samples"]

# the samples a comparison reads from each histogram: enough for the test, bounded in memory
MAX_SAMPLES = 200_000


@dataclass(frozen=True, slots=True)
class Comparison:
    """A comparison that ran (``regression`` set), or why it could not (``lacking``)."""

    baseline_run: str
    regression: stats.Regression | None
    lacking: tuple[str, ...] = ()  # the run ids without a load histogram

    def to_json(self) -> dict[str, object] | None:
        """The report's ``comparison`` section; None when nothing was compared."""
        reg = self.regression
        if reg is None:
            return None
        return {
            "baseline": self.baseline_run,
            "metric": "load latency (ms)",
            "baseline_median": reg.baseline_median,
            "current_median": reg.current_median,
            "effect": reg.effect,
            "p_value": reg.p_value,
            "min_effect": reg.min_effect,
            "significant": reg.significant,
            "regressed": reg.regressed,
            "noise": reg.noise,
            "noise_method": reg.noise_method,
            "n_baseline": reg.n_baseline,
            "n_current": reg.n_current,
            "test": "Mann-Whitney U, one-sided",
        }

    def summary(self) -> str:
        """One line for the console."""
        reg = self.regression
        if reg is None:
            return (
                f"nothing to compare: no load histogram in {' and '.join(self.lacking)}"
                " (only runs with a load phase can be compared)"
            )
        state = "REGRESSED" if reg.regressed else "no regression"
        return (
            f"latency vs {self.baseline_run}: median {reg.baseline_median:.3f} -> "
            f"{reg.current_median:.3f} ms (effect {reg.effect:+.3f} ms, p={reg.p_value:.3g}, "
            f"min effect {reg.min_effect} ms, noise {reg.noise:.3f} ms): {state}"
        )


def latency_samples(report: Mapping[str, Any]) -> list[float]:
    """The run's load latencies in ms, from its merged histogram (at most MAX_SAMPLES)."""
    encoded = as_map(report.get("load")).get("histogram_encoded")
    if not isinstance(encoded, str) or not encoded:
        return []
    from harness.load.histogram import decode_histogram

    out: list[float] = []
    for item in decode_histogram(encoded).get_recorded_iterator():
        out.extend([item.value_iterated_to / 1000.0] * item.count_added_in_this_iter_step)
        if len(out) >= MAX_SAMPLES:
            break
    return out[:MAX_SAMPLES]


def compare_runs(
    report: Mapping[str, Any], baseline: Mapping[str, Any], min_effect_ms: float
) -> Comparison:
    """Compare ``report``'s load latency with ``baseline``'s (see the module docstring)."""
    a, b = latency_samples(baseline), latency_samples(report)
    baseline_run = str(baseline.get("run_id"))
    if not (a and b):
        lacking = tuple(
            str(rep.get("run_id")) for rep, got in ((baseline, a), (report, b)) if not got
        )
        return Comparison(baseline_run, None, lacking)
    return Comparison(baseline_run, stats.compare_samples(a, b, min_effect_ms))
