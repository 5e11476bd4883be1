"""HdrHistogram recording and merging (harness.load.histogram, harness.load.result)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load.histogram import (
    HIGHEST_TRACKABLE_US,
    decode_histogram,
    encode_histogram,
    merge_encoded,
    new_histogram,
    record_us,
    summarize_ms,
)
from harness.load.result import merge_reports

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9, 100.0)


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(
        st.lists(st.integers(1, 5_000_000), min_size=0, max_size=300), min_size=1, max_size=5
    )
)
def test_merged_percentiles_equal_those_of_one_histogram_fed_all_values(
    parts: list[list[int]],
) -> None:
    single = new_histogram()
    encoded = []
    for values in parts:
        h = new_histogram()
        for v in values:
            record_us(h, v)
            record_us(single, v)
        encoded.append(encode_histogram(h))
    merged = merge_encoded(encoded)
    assert merged.get_total_count() == single.get_total_count()
    for p in PERCENTILES:
        assert merged.get_value_at_percentile(p) == single.get_value_at_percentile(p)
    assert summarize_ms(merged) == summarize_ms(single)


def test_merging_is_not_averaging_percentiles() -> None:
    fast, slow = new_histogram(), new_histogram()
    for _ in range(990):
        record_us(fast, 1_000)  # 1 ms
    for _ in range(10):
        record_us(slow, 500_000)  # 500 ms
    merged = summarize_ms(merge_encoded([encode_histogram(fast), encode_histogram(slow)]))
    averaged_p50 = (summarize_ms(fast)["p50"] + summarize_ms(slow)["p50"]) / 2
    assert merged["p50"] == pytest.approx(1.0, rel=1e-3)
    assert averaged_p50 > 200  # what averaging would have claimed
    assert merged["p99"] == pytest.approx(1.0, rel=1e-3)
    assert merged["max"] == pytest.approx(500.0, rel=1e-3)


def test_encoding_round_trips_and_empty_decodes_to_empty() -> None:
    h = new_histogram()
    rng = random.Random(7)
    for _ in range(1000):
        record_us(h, rng.randint(1, 10_000_000))
    back = decode_histogram(encode_histogram(h))
    assert back.get_total_count() == 1000
    assert summarize_ms(back) == summarize_ms(h)
    assert decode_histogram("").get_total_count() == 0


def test_out_of_range_values_are_clamped_not_lost() -> None:
    h = new_histogram()
    record_us(h, 0.2)
    record_us(h, HIGHEST_TRACKABLE_US * 10)
    assert h.get_total_count() == 2
    assert h.get_min_value() == 1


def test_summary_of_empty_histogram_is_zeros() -> None:
    assert set(summarize_ms(new_histogram()).values()) == {0.0}


def _report(
    values_us: list[int], *, errors: dict[str, int], start: float, end: float, second: int
) -> dict[str, object]:
    h = new_histogram()
    for v in values_us:
        record_us(h, v)
    return {
        "requests": len(values_us),
        "failures": sum(errors.values()),
        "histogram": encode_histogram(h),
        "errors": errors,
        "timeline": [
            {
                "t_s": second,
                "requests": len(values_us),
                "failures": sum(errors.values()),
                "histogram": encode_histogram(h),
            }
        ],
        "first_send_s": start,
        "last_done_s": end,
    }


def test_merge_reports_adds_counts_errors_and_timelines() -> None:
    a = _report([1000] * 100, errors={"GET /x: HTTP 500": 3}, start=2.5, end=4.5, second=2)
    b = _report(
        [3000] * 100,
        errors={"GET /x: HTTP 500": 1, "GET /y: HTTP 404": 2},
        start=2.6,
        end=4.0,
        second=3,
    )
    result = merge_reports([a, b], intended_rate_rps=100.0, users=4, model="open")
    assert (result.requests, result.failures, result.samples) == (200, 6, 200)
    assert result.errors == {"GET /x: HTTP 500": 4, "GET /y: HTTP 404": 2}
    assert result.duration_s == pytest.approx(2.0)
    assert result.rps == pytest.approx(100.0)
    assert result.latency_ms["p50"] == pytest.approx(1.0, rel=1e-3)
    assert result.latency_ms["p99"] == pytest.approx(3.0, rel=1e-3)
    assert [(p.t_s, p.requests) for p in result.timeline] == [(0, 100), (1, 100)]
    assert result.processes == 2
    payload = result.to_json()
    assert {"requests", "failures", "rps", "latency_ms"} <= payload.keys()
    assert {"p50", "p95", "p99", "max"} <= payload["latency_ms"].keys()
    assert payload["model"] == "open"
    assert merge_encoded([payload["histogram"]]).get_total_count() == 200
