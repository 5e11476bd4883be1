"""Regression against a baseline: the whole-histogram Mann-Whitney U agrees with scipy's,
identical distributions are flagged less than 5% of the time, and real shifts are found."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from harness.load.histogram import new_histogram
from harness.load.percentiles import percentile_estimate
from harness.regression import (
    histogram_mann_whitney,
    latency_check,
    pass_rate_check,
    recovery_check,
    throughput_check,
)


def _counts(values: list[float]) -> list[tuple[float, int]]:
    out: dict[float, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return sorted(out.items())


def test_the_histogram_u_test_gives_scipys_p_value_with_ties() -> None:
    rng = random.Random(7)
    for shift in (0, 1, 3):
        base = [float(rng.randint(0, 30)) for _ in range(400)]
        cur = [float(rng.randint(0, 30) + shift) for _ in range(300)]
        ours = histogram_mann_whitney(_counts(base), _counts(cur))
        theirs = mannwhitneyu(cur, base, alternative="greater", method="asymptotic").pvalue
        assert ours == pytest.approx(float(theirs), rel=1e-6, abs=1e-12)


def _run(rng: random.Random, n: int, extra_ms: float = 0.0):  # noqa: ANN202
    """A load run's latency histogram: lognormal around 2 ms, plus ``extra_ms``."""
    draws = np.random.default_rng(rng.getrandbits(32)).lognormal(0.7, 0.4, n) + extra_ms
    values, counts = np.unique(np.round(draws * 1000), return_counts=True)
    histogram = new_histogram()
    for value, count in zip(values, counts, strict=True):
        histogram.record_value(int(value), int(count))
    counts = [(float(v) / 1000.0, int(c)) for v, c in zip(values, counts, strict=True)]
    return counts, percentile_estimate(histogram, 0.95)


def test_identical_distributions_are_flagged_less_than_5_percent_of_the_time() -> None:
    rng = random.Random(11)
    trials, flagged, significant = 200, 0, 0
    for _ in range(trials):
        (b, b95), (c, c95) = _run(rng, 1000), _run(rng, 1000)
        # a minimum effect of a tenth of the 2 ms median, as a profile would declare one
        median, tail = latency_check(b, c, b95, c95, min_effect_ms=0.2)
        flagged += median.flagged or tail.flagged
        significant += median.significant
    assert flagged / trials < 0.05
    assert 0.02 <= significant / trials <= 0.09  # the U test alone is calibrated at 5%


def test_a_50_ms_slower_run_is_flagged_with_its_effect() -> None:
    rng = random.Random(3)
    (b, b95), (c, c95) = _run(rng, 3000), _run(rng, 3000, extra_ms=50.0)
    median, tail = latency_check(b, c, b95, c95, min_effect_ms=1.0)
    assert median.flagged
    assert tail.flagged
    assert median.effect == pytest.approx(50.0, rel=0.2)


def test_a_shift_below_the_minimum_effect_is_significant_but_not_flagged() -> None:
    rng = random.Random(5)
    (b, b95), (c, c95) = _run(rng, 10000), _run(rng, 10000, extra_ms=0.3)
    median, _ = latency_check(b, c, b95, c95, min_effect_ms=1.0)
    assert median.significant
    assert not median.flagged


def test_between_run_noise_is_used_once_the_history_has_three_runs() -> None:
    rng = random.Random(9)
    (b, b95), (c, c95) = _run(rng, 3000), _run(rng, 3000, extra_ms=0.6)
    # the earlier runs scatter widely: a 0.6 ms p95 move is inside their noise
    _, tail = latency_check(b, c, b95, c95, min_effect_ms=0.1, earlier_p95=[3.0, 5.0, 4.0, 6.0])
    assert tail.noise.startswith("between runs: 4 earlier runs")
    assert not tail.flagged


def test_throughput_pass_rate_and_recovery_regressions() -> None:
    steady = [1000, 1003, 998, 1001, 999, 1002] * 5
    slower = [900, 903, 898, 901, 899, 902] * 5
    drop = throughput_check(steady, slower, min_effect_pct=5.0)
    assert drop.flagged
    assert drop.effect == pytest.approx(10.0, abs=0.1)
    assert not throughput_check(steady, steady, min_effect_pct=5.0).flagged
    assert pass_rate_check(1000, 1000, 950, 1000, min_effect=0.01).flagged
    assert not pass_rate_check(1000, 1000, 999, 1000, min_effect=0.01).flagged
    slow = recovery_check("api-kill", [0.3] * 10, [2.3 + i / 100 for i in range(10)], 1.0)
    assert slow.flagged
    few = recovery_check("api-kill", [0.3], [5.0], 1.0)
    assert not few.flagged
    assert "too few injections" in few.detail


def test_an_open_models_constant_counts_are_judged_without_scipys_warning() -> None:
    # an open model's schedule: the same count every second, or nearly; pytest's
    # filterwarnings = error makes any warning of scipy's fail this test
    at_500, at_200 = [500] * 5, [200] * 5
    drop = throughput_check(at_500, at_200, min_effect_pct=5.0)
    assert (drop.flagged, drop.p_value) == (True, 0.0)
    assert throughput_check(at_500, at_500, min_effect_pct=5.0).p_value == 1.0
    # one side constant, the other nearly: scipy's t-test warns of precision loss here
    nearly = throughput_check([500, 501, 499, 500, 500], at_200, min_effect_pct=5.0)
    assert nearly.flagged
    assert nearly.p_value is not None
    assert nearly.p_value < 1e-6
    assert throughput_check(at_200, at_500, min_effect_pct=5.0).flagged is False  # a rise
