"""Availability from a probe timeline: outages are events, and the bound holds."""

from __future__ import annotations

import math
import random

import pytest

from harness import stats
from harness.availability import ProbePoint, analyse_probes


def _timeline(
    total_s: float, interval_s: float, down: list[tuple[float, float]]
) -> list[ProbePoint]:
    points = []
    for i in range(int(total_s / interval_s)):
        t = i * interval_s
        points.append(ProbePoint(t, not any(a <= t < b for a, b in down)))
    return points


def test_a_service_down_3_s_of_30_s_shows_one_outage_of_3_s_and_availability_0_9() -> None:
    result = analyse_probes(_timeline(30.0, 0.1, [(10.0, 13.0)]), interval_s=0.1)
    (outage,) = result.outages
    assert outage.duration_s == pytest.approx(3.0, abs=0.3)
    assert result.point == pytest.approx(0.9, abs=0.01)
    assert result.lower < result.point  # the claim is the bound, below the point estimate
    assert result.mttr_s == pytest.approx(3.0, abs=0.3)
    assert result.mtbf_s == pytest.approx(27.0, abs=0.5)


def test_no_outage_bounds_the_rate_at_about_3_over_t_and_says_the_hours_needed() -> None:
    result = analyse_probes(_timeline(600.0, 0.1, []), interval_s=0.1, assumed_outage_s=30.0)
    assert result.outages == ()
    assert result.point == 1.0
    observed = result.observed_s
    assert result.rate_upper_per_s == pytest.approx(-math.log(0.05) / observed)
    assert result.lower == pytest.approx(1 - 2.9957 / observed * 30.0, rel=1e-3)
    # five nines with 30 s outages: 2.9957 x 30 / 1e-5 seconds, about 2,496 hours
    assert result.hours_to_show(0.99999) == pytest.approx(
        (2.9957 * 30.0 / 1e-5 - observed) / 3600, rel=1e-3
    )
    assert "assumed: no outage was observed" in str(result.to_json()["assumption"])


def test_a_silence_of_the_prober_is_not_observed_time() -> None:
    points = _timeline(10.0, 0.1, []) + [ProbePoint(20.0 + i * 0.1, True) for i in range(100)]
    result = analyse_probes(points, interval_s=0.1)
    assert result.gaps_s == pytest.approx(10.1, abs=0.2)
    assert result.observed_s == pytest.approx(19.8, abs=0.3)
    assert result.outages == ()  # the gap is neither uptime nor downtime


def test_an_outage_still_on_at_the_end_is_counted_as_ongoing() -> None:
    result = analyse_probes(_timeline(10.0, 0.1, [(8.0, 99.0)]), interval_s=0.1)
    (outage,) = result.outages
    assert outage.ongoing
    assert result.mttr_s is None  # no ended outage to average


def _simulate(rng: random.Random, rate_per_s: float, duration_s: float, total_s: float):  # noqa: ANN202
    """Poisson outages of a fixed duration, probed every second."""
    down = []
    t = rng.expovariate(rate_per_s)
    while t < total_s:
        down.append((t, t + duration_s))
        t += duration_s + rng.expovariate(rate_per_s)
    return _timeline(total_s, 1.0, down)


def test_the_95_percent_bound_holds_at_least_95_percent_of_the_time() -> None:
    rng = random.Random(20261202)
    rate, duration, total = 1 / 600.0, 20.0, 3600.0  # about 6 outages of 20 s in an hour
    true_availability = 1 / (1 + rate * duration)  # long-run up fraction of the process
    held = binomial_held = 0
    trials = 200
    for _ in range(trials):
        points = _simulate(rng, rate, duration, total)
        result = analyse_probes(points, interval_s=1.0)
        held += result.lower <= true_availability
        # the naive view: every probe an independent trial
        ok = sum(p.ok for p in points)
        binomial_held += stats.lower_bound(ok, len(points)) <= true_availability
    assert held / trials >= 0.95
    assert binomial_held / trials < 0.9  # probes as trials overstate what is known
