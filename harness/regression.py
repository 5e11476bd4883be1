"""Regression against a baseline run: latency, throughput, test pass rate and chaos recovery,
each flagged only when the change is both larger than a declared minimum effect and
significant. Pure: the two runs' figures come in, the comparisons go out.

- Latency: the whole merged HdrHistograms, never a sample of them. Mann-Whitney U (one-sided:
  the current run is slower) is computed exactly from the bucket counts (rank sums with ties,
  normal approximation with the tie correction), so a run of millions of requests is
  compared whole. It is flagged when U is significant and the median moved by more than the
  minimum effect, or when the p95's order-statistic bounds are apart by more than it.
- Throughput: the per-second request counts of the load, Welch's t-test, one-sided; flagged
  when the mean dropped by more than the minimum share.
- Test pass rate: Fisher's exact test, one-sided (current lower); flagged when the pass rate
  fell by more than the minimum effect.
- Chaos recovery: each experiment's recovery times, Mann-Whitney U, one-sided.

The noise a change is judged against is stated. With at least three earlier comparable runs
in the history, latency (p95) and throughput are judged against the scatter between runs
(the current value outside the one-sided 95% prediction interval of those runs, Student t
on k - 1 degrees of freedom), which is what run-to-run noise really is; with fewer, within
the run (the tests above).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from harness.stats import PercentileEstimate

__all__ = [
    "ALPHA",
    "Check",
    "count_quantile",
    "histogram_mann_whitney",
    "latency_check",
    "pass_rate_check",
    "recovery_check",
    "throughput_check",
]

ALPHA = 0.05
MIN_HISTORY_RUNS = 3

Counts = Sequence[tuple[float, int]]  # (value, how many), in increasing value


@dataclass(frozen=True, slots=True)
class Check:
    """One metric compared: what moved, how surely, against what noise, and the decision."""

    metric: str  # "latency p50 (ms)", "throughput (req/s)", "test pass rate", ...
    baseline: float
    current: float
    effect: float  # current - baseline, in the metric's unit (worse is positive)
    min_effect: float
    p_value: float | None  # None: judged on bounds or between-run noise, not a p-value
    significant: bool
    flagged: bool
    noise: str  # what the change was judged against, in words
    method: str
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "current": self.current,
            "effect": self.effect,
            "min_effect": self.min_effect,
            "p_value": self.p_value,
            "significant": self.significant,
            "flagged": self.flagged,
            "noise": self.noise,
            "method": self.method,
            "detail": self.detail,
        }


def histogram_mann_whitney(baseline: Counts, current: Counts) -> float:
    """One-sided p-value that ``current`` is stochastically larger than ``baseline``, from
    bucket counts: U by rank sums with ties, the normal approximation with tie correction."""
    n1 = sum(c for _, c in current)
    n2 = sum(c for _, c in baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError(f"invalid counts: {n1} current and {n2} baseline values; need >= 1 each")
    merged: dict[float, list[int]] = {}
    for value, count in current:
        merged.setdefault(value, [0, 0])[0] += count
    for value, count in baseline:
        merged.setdefault(value, [0, 0])[1] += count
    rank = 0.0  # ranks used so far
    rank_sum = 0.0  # of the current run's values
    ties = 0.0
    for value in sorted(merged):
        c1, c2 = merged[value]
        t = c1 + c2
        mid = rank + (t + 1) / 2  # the average rank of this tied group
        rank_sum += c1 * mid
        ties += t**3 - t
        rank += t
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return 1.0  # every value ties: no evidence of a shift
    z = (u - mean - 0.5) / math.sqrt(var)  # continuity correction, one-sided
    return 0.5 * math.erfc(z / math.sqrt(2))


def count_quantile(counts: Counts, q: float) -> float:
    """The ``q``-quantile of values given as (value, how many), in increasing value."""
    total = sum(c for _, c in counts)
    seen = 0
    for value, count in counts:
        seen += count
        if seen >= q * total:
            return value
    return counts[-1][0]


def _between_runs(
    current: float, earlier: Sequence[float], worse_is_higher: bool
) -> tuple[bool, str]:
    """Is ``current`` outside the one-sided 95% prediction interval of ``earlier`` runs?"""
    from scipy import stats as scipy_stats  # heavy import, only when comparing

    k = len(earlier)
    mean, sd = statistics.fmean(earlier), statistics.stdev(earlier)
    limit = float(scipy_stats.t.ppf(0.95, k - 1)) * sd * math.sqrt(1 + 1 / k)
    edge = mean + limit if worse_is_higher else mean - limit
    outside = current > edge if worse_is_higher else current < edge
    noise = (
        f"between runs: {k} earlier runs, mean {mean:.4g}, sd {sd:.3g}; one-sided 95% "
        f"prediction limit {edge:.4g} (Student t, {k - 1} df)"
    )
    return outside, noise


def latency_check(
    baseline: Counts,
    current: Counts,
    base_p95: PercentileEstimate,
    cur_p95: PercentileEstimate,
    min_effect_ms: float,
    earlier_p95: Sequence[float] = (),
) -> tuple[Check, Check]:
    """The median (whole distributions, Mann-Whitney U) and the p95 (order-statistic bounds,
    or the scatter between earlier runs when there are enough) of the load's latency."""
    p = histogram_mann_whitney(baseline, current)
    m0, m1 = count_quantile(baseline, 0.5), count_quantile(current, 0.5)
    median = Check(
        "latency p50 (ms)", m0, m1, m1 - m0, min_effect_ms, p, p < ALPHA,
        p < ALPHA and m1 - m0 > min_effect_ms,
        f"within the run: every one of {sum(c for _, c in baseline):,} and "
        f"{sum(c for _, c in current):,} requests",
        "Mann-Whitney U on the whole histograms, one-sided (current slower)",
    )  # fmt: skip
    effect = cur_p95.estimate_ms - base_p95.estimate_ms
    if len(earlier_p95) >= MIN_HISTORY_RUNS:
        outside, noise = _between_runs(cur_p95.estimate_ms, earlier_p95, worse_is_higher=True)
        significant, method = outside, "prediction interval of the earlier runs' p95"
    else:
        apart = (
            cur_p95.low_ms is not None
            and base_p95.high_ms is not None
            and cur_p95.low_ms > base_p95.high_ms
        )
        significant, method = apart, "95% order-statistic bounds of both p95s apart"
        noise = (
            f"within the run: p95 bounds [{base_p95.low_ms}, {base_p95.high_ms}] ms then, "
            f"[{cur_p95.low_ms}, {cur_p95.high_ms}] ms now"
        )
    tail = Check(
        "latency p95 (ms)", base_p95.estimate_ms, cur_p95.estimate_ms, effect, min_effect_ms,
        None, significant, significant and effect > min_effect_ms, noise, method,
    )  # fmt: skip
    return median, tail


def throughput_check(
    baseline: Sequence[int],
    current: Sequence[int],
    min_effect_pct: float,
    earlier_rps: Sequence[float] = (),
) -> Check:
    """Requests per second of the load, a drop being worse (``effect`` > 0 is a drop)."""
    b0, b1 = statistics.fmean(baseline), statistics.fmean(current)
    drop_pct = (b0 - b1) / b0 * 100 if b0 > 0 else 0.0
    if len(earlier_rps) >= MIN_HISTORY_RUNS:
        significant, noise = _between_runs(b1, earlier_rps, worse_is_higher=False)
        p_value, method = None, "prediction interval of the earlier runs' throughput"
    elif len(baseline) >= 2 and len(current) >= 2:
        from scipy import stats as scipy_stats  # heavy import, only when comparing

        if statistics.pstdev(baseline) == 0 and statistics.pstdev(current) == 0:
            # each side the same count every second: no noise to weigh a difference against
            p_value = 0.0 if b1 < b0 else 1.0
        else:
            with warnings.catch_warnings():
                # nearly constant counts (an open model's schedule): scipy warns of precision
                # lost in the variance; the p-value stands, and the console stays the harness's
                warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
                test = scipy_stats.ttest_ind(current, baseline, equal_var=False, alternative="less")
            p_value = float(test.pvalue)
        significant = p_value < ALPHA
        noise = f"within the run: {len(baseline)} and {len(current)} one-second counts"
        method = "Welch's t-test on per-second request counts, one-sided (current lower)"
    else:
        p_value, significant = None, False
        noise, method = "too few seconds of load to judge", "none"
    return Check(
        "throughput drop (%)", b0, b1, drop_pct, min_effect_pct, p_value, significant,
        significant and drop_pct > min_effect_pct, noise, method,
    )  # fmt: skip


def pass_rate_check(
    base_passed: int, base_n: int, cur_passed: int, cur_n: int, min_effect: float
) -> Check:
    """The pooled test pass rate: Fisher's exact test, one-sided (current lower)."""
    from scipy import stats as scipy_stats  # heavy import, only when comparing

    table = [[cur_passed, cur_n - cur_passed], [base_passed, base_n - base_passed]]
    p = float(scipy_stats.fisher_exact(table, alternative="less").pvalue)
    r0, r1 = base_passed / base_n, cur_passed / cur_n
    return Check(
        "test pass rate drop", r0, r1, r0 - r1, min_effect, p, p < ALPHA,
        p < ALPHA and r0 - r1 > min_effect,
        f"within the runs: {base_passed}/{base_n} then, {cur_passed}/{cur_n} now",
        "Fisher's exact test, one-sided (current lower)",
    )  # fmt: skip


def recovery_check(
    name: str, baseline: Sequence[float], current: Sequence[float], min_effect_s: float
) -> Check:
    """One chaos experiment's recovery times: Mann-Whitney U, one-sided (current slower)."""
    m0, m1 = statistics.median(baseline), statistics.median(current)
    p = histogram_mann_whitney(
        [(v, 1) for v in sorted(baseline)], [(v, 1) for v in sorted(current)]
    )
    detail = ""
    if len(baseline) * len(current) < 20:
        detail = "too few injections for the test to reach significance (n x m < 20)"
    return Check(
        f"recovery of {name} (s)", m0, m1, m1 - m0, min_effect_s, p, p < ALPHA,
        p < ALPHA and m1 - m0 > min_effect_s,
        f"within the runs: {len(baseline)} and {len(current)} injections",
        "Mann-Whitney U on the recovery times, one-sided (current slower)", detail,
    )  # fmt: skip
