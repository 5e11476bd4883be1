"""SLOs: the SLI with its interval, the burn rate with its bounds, the budget, the gate."""

from __future__ import annotations

import pytest

from harness.availability import ProbePoint, analyse_probes
from harness.config import SloSettings, load_config
from harness.errors import ConfigError
from harness.load.histogram import encode_histogram, new_histogram, record_us
from harness.load.result import LoadResult, TimelinePoint
from harness.slo import evaluate_slos, slo_gates


def _load(requests: int, failures: int, latencies_ms: list[float] | None = None) -> LoadResult:
    histogram = new_histogram()
    for ms in latencies_ms or [2.0] * requests:
        record_us(histogram, ms * 1000)
    timeline = tuple(
        TimelinePoint(t, requests // 10, failures if t == 3 else 0, 2.0) for t in range(10)
    )
    return LoadResult(
        requests=requests, failures=failures, duration_s=10.0, rps=requests / 10,
        latency_ms={"p50": 2.0, "p95": 2.0, "p99": 2.0, "max": 2.0},
        histogram=encode_histogram(histogram), errors={}, timeline=timeline,
        intended_rate_rps=0.0, users=1, model="closed", samples=requests,
    )  # fmt: skip


def test_a_known_error_ratio_gives_the_known_burn_rate() -> None:
    slo = SloSettings(name="ok", indicator="request_success", objective=0.999)
    (result,) = evaluate_slos([slo], _load(10_000, 20), None)
    assert result.sli == pytest.approx(0.998)
    assert result.burn == pytest.approx(2.0)  # 0.002 errors over a 0.001 budget
    assert result.burn_low < 2.0 < result.burn_high
    assert result.sli_low < 0.998 < result.sli_high
    # 10 s of a 28-day window at burn 2: 2 x 10 / (28 x 86400) of the budget
    assert result.budget_share == pytest.approx(2.0 * 10 / (28 * 86_400))
    (five_s, _thirty_s) = result.windows
    assert five_s.window_s == 5
    assert five_s.bad == 20  # every failure fell in second 3: the worst window has them all


def test_latency_under_counts_the_requests_within_the_threshold() -> None:
    slo = SloSettings(name="fast", indicator="latency_under", objective=0.9, threshold_ms=10)
    latencies = [1.0] * 950 + [80.0] * 50
    (result,) = evaluate_slos([slo], _load(1000, 0, latencies), None)
    assert (result.good, result.total) == (950, 1000)
    assert result.burn == pytest.approx(0.05 / 0.1)


def test_an_availability_slo_uses_the_time_based_bounds() -> None:
    points = [ProbePoint(i * 0.1, not 100 <= i < 130) for i in range(3000)]
    availability = analyse_probes(points, interval_s=0.1)
    slo = SloSettings(name="up", indicator="availability", objective=0.99)
    (result,) = evaluate_slos([slo], None, availability)
    assert result.sli == pytest.approx(availability.point)
    assert result.burn_high == pytest.approx((1 - availability.lower) / 0.01)
    assert result.good is None  # not a count of events


def test_the_slo_gate_passes_fails_and_is_insufficient_on_the_burn_rate_bounds() -> None:
    def gate(requests: int, failures: int):  # noqa: ANN202
        slo = SloSettings(
            name="ok", indicator="request_success", objective=0.999, max_burn_rate=14.4
        )
        return slo_gates([slo], evaluate_slos([slo], _load(requests, failures), None))[0]

    assert gate(100_000, 0).outcome == "pass"
    failed = gate(10_000, 500)  # 5% errors: a burn rate of 50
    assert failed.outcome == "fail"
    assert failed.decided_by == "one-sided 95% lower bound"
    few = gate(100, 0)  # 0/100 cannot show an error ratio under 1.44%
    assert few.outcome == "insufficient"
    assert few.trials_needed is not None
    assert few.trials_needed > 0


def test_an_slo_gate_without_data_is_off_or_insufficient_never_absent() -> None:
    slo = SloSettings(name="ok", indicator="request_success", objective=0.99, max_burn_rate=1)
    (off,) = slo_gates([slo], [], {"load": "load.enabled = false"})
    assert off.outcome == "off"
    (missing,) = slo_gates([slo], [])
    assert missing.outcome == "insufficient"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('slos=[{name="a", indicator="request_success", objective=1.5}]', "less than 1"),
        ('slos=[{name="a", indicator="uptime", objective=0.9}]', "indicator"),
        ('slos=[{name="a", indicator="latency_under", objective=0.9}]', "needs threshold_ms"),
        (
            'slos=[{name="a", indicator="request_success", objective=0.9},'
            ' {name="a", indicator="availability", objective=0.9}]',
            "given twice: a",
        ),
    ],
)
def test_a_bad_slo_is_a_config_error_naming_it(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override], environ={})
