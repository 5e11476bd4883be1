"""Latency percentiles with order-statistic confidence bounds, read off an HdrHistogram.

No I/O: takes a histogram, returns numbers. The bounds are the order statistics whose
ranks the binomial distribution fixes, so they hold whatever the latency distribution.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram
from scipy.special import bdtrc

from harness import stats
from harness.gates import PercentileEstimate

__all__ = ["percentile_estimate", "percentile_lower_bound_rank"]


def percentile_lower_bound_rank(n: int, q: float, confidence: float = 0.95) -> int | None:
    """Largest 1-based rank r with P(x_(r) <= q-quantile) >= confidence, or None."""
    # x_(r) <= xi_q  iff  at least r of n samples fall at or under xi_q: Binomial(n, q) >= r
    best = None
    low, high = 1, n
    while low <= high:
        mid = (low + high) // 2
        if float(bdtrc(mid - 1, n, q)) >= confidence:  # P(Binomial(n, q) >= mid)
            best = mid
            low = mid + 1
        else:
            high = mid - 1
    return best


def _value_at_rank_ms(histogram: HdrHistogram, rank: int, n: int) -> float:
    # HdrHistogram returns the value at or above which (100 - p)% of samples lie
    return float(histogram.get_value_at_percentile(100.0 * rank / n)) / 1000.0


def percentile_estimate(
    histogram: HdrHistogram, q: float, confidence: float = 0.95
) -> PercentileEstimate:
    """The q-quantile (latencies recorded in µs) with its 95% order-statistic bounds in ms."""
    n = int(histogram.get_total_count())
    if n == 0:
        return PercentileEstimate(q, 0, 0.0, None, None)
    estimate = float(histogram.get_value_at_percentile(100.0 * q)) / 1000.0
    upper_rank = stats.percentile_upper_bound_rank(n, q, confidence)
    lower_rank = percentile_lower_bound_rank(n, q, confidence)
    high = _value_at_rank_ms(histogram, upper_rank, n) if upper_rank is not None else None
    low = _value_at_rank_ms(histogram, lower_rank, n) if lower_rank is not None else None
    if high is None:
        low = None
    return PercentileEstimate(q, n, estimate, low, high)
