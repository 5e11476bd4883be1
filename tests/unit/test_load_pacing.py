"""Open-model schedule maths (harness.load.pacing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.load.pacing import intended_offsets_s, planned_request_count, share_of


def test_planned_count_is_rate_times_duration() -> None:
    assert planned_request_count(200.0, 10.0, None) == 2000
    assert planned_request_count(3.0, 1.5, None) == 5  # i / 3 < 1.5 for i = 0..4


def test_planned_count_is_capped_by_max_requests() -> None:
    assert planned_request_count(200.0, 10.0, 150) == 150


def test_planned_count_refuses_the_closed_model() -> None:
    with pytest.raises(ValueError, match="rate_rps"):
        planned_request_count(0.0, 10.0, None)


def test_each_user_sends_at_rate_over_users_staggered_by_one_global_interval() -> None:
    offsets = list(intended_offsets_s(1, users=4, rate_rps=100.0, duration_s=0.2))
    # global requests 1, 5, 9, 13, 17 at 10 ms apart -> this user every 40 ms, starting at 10 ms
    assert offsets == pytest.approx([0.01, 0.05, 0.09, 0.13, 0.17])


def test_offsets_do_not_drift_over_a_long_schedule() -> None:
    offsets = list(intended_offsets_s(0, users=1, rate_rps=3.0, duration_s=100_000.0))
    assert offsets[-1] == (300_000 - 1) / 3.0


def test_user_index_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="user_index"):
        list(intended_offsets_s(4, users=4, rate_rps=10.0, duration_s=1.0))


@given(
    users=st.integers(1, 40),
    rate=st.floats(0.5, 5000.0),
    duration=st.floats(0.01, 20.0),
    max_requests=st.none() | st.integers(1, 10_000),
)
def test_users_together_cover_the_global_schedule_exactly_once(
    users: int, rate: float, duration: float, max_requests: int | None
) -> None:
    merged = sorted(
        offset
        for u in range(users)
        for offset in intended_offsets_s(u, users, rate, duration, max_requests)
    )
    total = planned_request_count(rate, duration, max_requests)
    assert len(merged) == total
    assert merged == [i / rate for i in range(total)]
    assert all(0.0 <= t < duration + 1e-9 for t in merged)


@given(total=st.integers(0, 10_000), parts=st.integers(1, 64))
def test_shares_sum_to_total_and_differ_by_at_most_one(total: int, parts: int) -> None:
    shares = [share_of(total, parts, i) for i in range(parts)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
