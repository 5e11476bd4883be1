"""Latency histograms: HdrHistogram in microseconds, merged by adding counts.

Each load process records into its own histogram; the parent adds the encoded
histograms together and reads percentiles from the sum. Percentiles are never averaged.
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

__all__ = [
    "counts_ms",
    "HIGHEST_TRACKABLE_US",
    "SIGNIFICANT_DIGITS",
    "TIMELINE_DIGITS",
    "decode_histogram",
    "encode_histogram",
    "merge_encoded",
    "new_histogram",
    "record_us",
    "summarize_ms",
]

LOWEST_TRACKABLE_US = 1
# 10 minutes: far above any request timeout the harness allows; larger values are clamped.
HIGHEST_TRACKABLE_US = 600_000_000
# 3 significant digits: a recorded value is within 0.1% of the true one.
SIGNIFICANT_DIGITS = 3
# The per-second timeline only feeds a chart: 2 digits (1%) keeps one histogram per second
# around 40 kB instead of 160 kB.
TIMELINE_DIGITS = 2


def new_histogram(significant_digits: int = SIGNIFICANT_DIGITS) -> HdrHistogram:
    """An empty latency histogram (microseconds, 1 µs .. 10 min, 3 significant digits)."""
    return HdrHistogram(LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, significant_digits)


def record_us(histogram: HdrHistogram, latency_us: float) -> None:
    """Record one latency; sub-microsecond values count as 1 µs, huge ones are clamped."""
    value = min(max(int(round(latency_us)), LOWEST_TRACKABLE_US), HIGHEST_TRACKABLE_US)
    histogram.record_value(value)


def encode_histogram(histogram: HdrHistogram) -> str:
    """The standard HdrHistogram V2 compressed, base64 encoding, as text."""
    encoded: bytes = histogram.encode()
    return encoded.decode("ascii")


def decode_histogram(encoded: str) -> HdrHistogram:
    """Reverse :func:`encode_histogram`; the empty string decodes to an empty histogram."""
    if not encoded:
        return new_histogram()
    merged = new_histogram()
    merged.decode_and_add(encoded.encode("ascii"))
    return merged


def merge_encoded(
    encoded: Iterable[str], significant_digits: int = SIGNIFICANT_DIGITS
) -> HdrHistogram:
    """Add several encoded histograms into one (bucket counts summed)."""
    merged = new_histogram(significant_digits)
    for item in encoded:
        if item:
            merged.decode_and_add(item.encode("ascii"))
    return merged


def summarize_ms(histogram: HdrHistogram) -> dict[str, float]:
    """p50, p95, p99, p999, max, mean in milliseconds; all 0.0 for an empty histogram."""
    if histogram.get_total_count() == 0:
        return {key: 0.0 for key in ("p50", "p95", "p99", "p999", "max", "mean")}
    return {
        "p50": histogram.get_value_at_percentile(50.0) / 1000.0,
        "p95": histogram.get_value_at_percentile(95.0) / 1000.0,
        "p99": histogram.get_value_at_percentile(99.0) / 1000.0,
        "p999": histogram.get_value_at_percentile(99.9) / 1000.0,
        "max": histogram.get_max_value() / 1000.0,
        "mean": histogram.get_mean_value() / 1000.0,
    }


def counts_ms(encoded: str) -> list[tuple[float, int]]:
    """An encoded histogram (µs) as (ms, count) per recorded bucket, in increasing latency:
    the whole distribution, for comparisons that must not sample it."""
    return [
        (item.value_iterated_to / 1000.0, item.count_added_in_this_iter_step)
        for item in decode_histogram(encoded).get_recorded_iterator()
    ]
