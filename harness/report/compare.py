"""``report --compare``: this run's load latency against a baseline run's.

Both runs' whole merged HdrHistograms (``load.histogram_encoded``) are compared, never a
sample of them: Mann-Whitney U, one-sided, from the bucket counts, flagged only above the
declared minimum effect. The result is
the report's ``comparison`` section, which every renderer shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import stats
from harness.values import as_map

__all__ = ["Comparison", "compare_runs", "histogram_counts"]


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


def histogram_counts(report: Mapping[str, Any]) -> list[tuple[float, int]]:
    """The run's whole merged latency histogram as (ms, count), in increasing latency."""
    encoded = as_map(report.get("load")).get("histogram_encoded")
    if not isinstance(encoded, str) or not encoded:
        return []
    from harness.load.histogram import counts_ms

    return counts_ms(encoded)


def compare_runs(
    report: Mapping[str, Any], baseline: Mapping[str, Any], min_effect_ms: float
) -> Comparison:
    """Compare ``report``'s load latency with ``baseline``'s over the whole histograms:
    Mann-Whitney U from the bucket counts (:func:`harness.regression.histogram_mann_whitney`),
    flagged when significant and the median moved by more than ``min_effect_ms``."""
    from harness.regression import ALPHA, count_quantile, histogram_mann_whitney

    a, b = histogram_counts(baseline), histogram_counts(report)
    baseline_run = str(baseline.get("run_id"))
    if not (a and b):
        lacking = tuple(
            str(rep.get("run_id")) for rep, got in ((baseline, a), (report, b)) if not got
        )
        return Comparison(baseline_run, None, lacking)
    p_value = histogram_mann_whitney(a, b)
    m0, m1 = count_quantile(a, 0.5), count_quantile(b, 0.5)
    significant = p_value < ALPHA
    return Comparison(
        baseline_run,
        stats.Regression(
            baseline_median=m0, current_median=m1, effect=m1 - m0, p_value=p_value,
            min_effect=float(min_effect_ms), significant=significant,
            regressed=significant and m1 - m0 > min_effect_ms,
            noise=count_quantile(a, 0.75) - count_quantile(a, 0.25), noise_method="iqr",
            n_baseline=sum(c for _, c in a), n_current=sum(c for _, c in b),
        ),
    )  # fmt: skip
