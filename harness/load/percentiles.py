"""Latency percentiles with order-statistic confidence bounds, read off an HdrHistogram.

The ranks come from :mod:`harness.stats` (pure maths); this module only reads the
histogram at them. Kept apart from :mod:`harness.load.histogram`, which the load
workers import, so that a worker never loads scipy.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from harness.stats import (
    PercentileEstimate,
    percentile_lower_bound_rank,
    percentile_upper_bound_rank,
)

__all__ = ["percentile_estimate"]


def _value_at_rank_ms(histogram: HdrHistogram, rank: int, n: int) -> float:
    # HdrHistogram returns the value at or above which (100 - p)% of samples lie
    return float(histogram.get_value_at_percentile(100.0 * rank / n)) / 1000.0


def percentile_estimate(
    histogram: HdrHistogram, q: float, confidence: float = 0.95
) -> PercentileEstimate:
    """The q-quantile (latencies recorded in µs) with its 95% order-statistic bounds in ms.

    The bounds are the order statistics whose ranks the binomial distribution fixes
    (:mod:`harness.stats`), so they hold whatever the latency distribution."""
    n = int(histogram.get_total_count())
    if n == 0:
        return PercentileEstimate(q, 0, 0.0, None, None)
    estimate = float(histogram.get_value_at_percentile(100.0 * q)) / 1000.0
    upper_rank = percentile_upper_bound_rank(n, q, confidence)
    lower_rank = percentile_lower_bound_rank(n, q, confidence)
    high = _value_at_rank_ms(histogram, upper_rank, n) if upper_rank is not None else None
    low = _value_at_rank_ms(histogram, lower_rank, n) if lower_rank is not None else None
    if high is None:
        low = None
    return PercentileEstimate(q, n, estimate, low, high)
