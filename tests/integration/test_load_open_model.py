"""The true open model against a real uvicorn server on 127.0.0.1:0 that slows down.

The server's latency is set by the test while the load runs; it records when each request
arrived, so the tests check the schedule from the server's side, not the generator's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slowing_server import SlowingServer, arrivals_between, serve_slowing

from harness.load import LoadSpec, RequestSpec, run_load
from harness.load.result import DROPPED
from harness.load.spec import Stage, with_stages

pytestmark = pytest.mark.integration


@pytest.fixture
def slowing() -> Iterator[SlowingServer]:
    yield from serve_slowing()


def test_the_open_model_holds_its_rate_when_the_server_slows_down(
    slowing: SlowingServer,
) -> None:
    # 100 req/s for 2.5 s; from 1 s on each answer takes 300 ms: about 30 in flight, well
    # under max_in_flight, so every request starts on schedule and none is dropped
    spec = LoadSpec(
        slowing.url, requests=(RequestSpec(path="/work"),), rate_rps=100.0, users=2,
        duration_s=2.5, max_in_flight=200,
    )  # fmt: skip
    result = run_load(spec)
    assert result.requests == 250 == len(slowing.arrivals)
    assert result.failures == result.dropped == 0
    # a closed model with 2 users would get ~7 req/s through at 300 ms; the schedule's
    # 100 req/s keep arriving while the server is slow
    assert arrivals_between(slowing, 1.2, 2.2) >= 80
    assert slowing.most_in_flight >= 20
    assert result.latency_ms["p99"] >= 250.0
    assert result.max_in_flight == 200


def test_requests_beyond_max_in_flight_are_dropped_and_counted_as_failures(
    slowing: SlowingServer,
) -> None:
    # the same slow-down, but at most 8 in flight: of the ~30 needed, the rest are dropped
    spec = LoadSpec(
        slowing.url, requests=(RequestSpec(path="/work"),), rate_rps=100.0, users=2,
        duration_s=2.5, max_in_flight=8,
    )  # fmt: skip
    result = run_load(spec)
    sent = len(slowing.arrivals)
    assert result.requests == 250  # the whole schedule is accounted for
    assert result.dropped == 250 - sent > 50
    assert result.failures == result.dropped
    assert result.errors == {DROPPED: result.dropped}
    assert slowing.most_in_flight <= 8
    # latency is of the requests sent; the dropped ones have none
    assert result.samples == sent
    (only,) = result.by_request
    assert only.dropped == result.dropped
    assert result.to_json()["dropped"] == result.dropped
    # before the slow-down nothing was dropped: the first second arrived in full
    assert arrivals_between(slowing, 0.0, 0.9) >= 85


def test_open_stages_start_each_request_on_the_shape(slowing: SlowingServer) -> None:
    # a step: 50 req/s for 1 s, then 150 req/s for 1 s (the server stays fast)
    slowing.slow_after_s = 1e9
    stages = (
        Stage(0.0, rate_rps=50.0), Stage(1.0, rate_rps=50.0),
        Stage(0.0, rate_rps=150.0), Stage(1.0, rate_rps=150.0),
    )  # fmt: skip
    spec = with_stages(LoadSpec(slowing.url, requests=(RequestSpec(path="/work"),)), stages)
    result = run_load(spec)
    assert result.requests == 200 == len(slowing.arrivals)
    assert result.intended_rate_rps == pytest.approx(100.0)
    assert result.to_json()["stages"][2] == {"duration_s": 0.0, "rate_rps": 150.0, "users": None}
    # the first second holds the 50, the second the 150 (a margin for a busy machine)
    assert 40 <= arrivals_between(slowing, 0.0, 0.98) <= 52
    assert arrivals_between(slowing, 1.02, 2.1) >= 130


def test_closed_stages_change_the_number_of_users(slowing: SlowingServer) -> None:
    # every answer takes 50 ms: one user can send 20 a second at most, three 60
    slowing.slow_after_s, slowing.slow_s = 0.0, 0.05
    stages = (Stage(0.0, users=1), Stage(1.0, users=1), Stage(0.0, users=3), Stage(1.0, users=3))
    spec = with_stages(
        LoadSpec(slowing.url, requests=(RequestSpec(path="/work"),), rate_rps=0.0), stages
    )
    assert spec.users == 3
    result = run_load(spec)
    assert result.model == "closed"
    assert result.requests == len(slowing.arrivals)
    assert arrivals_between(slowing, 0.0, 0.95) <= 21  # one user only
    assert arrivals_between(slowing, 1.1, 2.0) >= 25  # more than one user could send
    assert slowing.most_in_flight <= 3
