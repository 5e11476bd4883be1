"""Hypothesis properties and a coverage simulation for harness.stats intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from harness.stats import (
    Interval,
    clopper_pearson,
    decide,
    jeffreys,
    lower_bound,
    trials_needed,
    upper_bound,
    wilson,
)

METHODS = [clopper_pearson, wilson, jeffreys]
EPS = 1e-12


@st.composite
def counts(draw: st.DrawFn, max_n: int = 2000) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    k = draw(st.integers(min_value=0, max_value=n))
    return k, n


confidences = st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999])


@pytest.mark.parametrize("method", METHODS)
@settings(deadline=None)  # scipy quantiles on a busy 2-core box: no timing flakes
@given(kn=counts(), confidence=confidences)
def test_interval_contains_the_estimate(method, kn, confidence) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    ci: Interval = method(k, n, confidence)
    assert 0.0 <= ci.low <= ci.estimate <= ci.high <= 1.0
    assert ci.estimate == k / n


@pytest.mark.parametrize("method", METHODS)
@settings(deadline=None)  # scipy quantiles on a busy 2-core box: no timing flakes
@given(kn=counts(max_n=500), factor=st.integers(min_value=2, max_value=10))
def test_interval_narrows_as_n_grows_at_a_fixed_rate(method, kn, factor) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    small: Interval = method(k, n)
    large: Interval = method(k * factor, n * factor)
    assert large.high - large.low <= small.high - small.low + EPS


@pytest.mark.parametrize("method", METHODS)
@settings(deadline=None)  # scipy quantiles on a busy 2-core box: no timing flakes
@given(kn=counts())
def test_intervals_nest_by_confidence_level(method, kn) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    narrow: Interval = method(k, n, 0.95)
    wide: Interval = method(k, n, 0.99)
    assert wide.low <= narrow.low + EPS
    assert narrow.high <= wide.high + EPS


@settings(deadline=None)  # scipy quantiles on a busy 2-core box: no timing flakes
@given(kn=counts(), confidence=confidences)
def test_one_sided_bounds_bracket_the_estimate(kn, confidence) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    lo, hi = lower_bound(k, n, confidence), upper_bound(k, n, confidence)
    assert lo <= k / n <= hi
    # A one-sided bound spends all of alpha in one tail, so it is tighter than the
    # two-sided interval at the same confidence.
    ci = clopper_pearson(k, n, confidence)
    assert ci.low <= lo + EPS
    assert hi <= ci.high + EPS


@settings(max_examples=50, deadline=None)
@given(
    kn=counts(max_n=300),
    target=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]),
)
def test_trials_needed_reaches_the_target_and_no_fewer_do(kn, target) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    m = trials_needed(target, k, n)
    assert lower_bound(k + m, n + m) >= target
    if m > 0:
        assert lower_bound(k + m - 1, n + m - 1) < target
        assert decide(k, n, target) != "pass"
    assert decide(k + m, n + m, target) == "pass"


@settings(deadline=None)  # scipy quantiles on a busy 2-core box: no timing flakes
@given(kn=counts(), target=st.floats(min_value=0.01, max_value=0.99))
def test_decide_agrees_with_the_bounds(kn, target) -> None:  # type: ignore[no-untyped-def]
    k, n = kn
    outcome = decide(k, n, target)
    if outcome == "pass":
        assert lower_bound(k, n) >= target
    elif outcome == "fail":
        assert upper_bound(k, n) < target
    else:
        assert lower_bound(k, n) < target <= upper_bound(k, n)


# ------------------------------------------------------------ coverage in simulation

COVERAGE_CASES = [(0.5, 20), (0.9, 50), (0.99, 100), (0.999, 500), (0.3, 200)]


def _simulated_coverage(method, p: float, n: int, draws: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    ks = rng.binomial(n, p, size=draws)
    # One interval per distinct k: the same function the harness uses, called as it is.
    covers = {int(k): method(int(k), n).low <= p <= method(int(k), n).high for k in set(ks)}
    return float(np.mean([covers[int(k)] for k in ks]))


def _exact_coverage(method, p: float, n: int) -> float:  # type: ignore[no-untyped-def]
    total = 0.0
    for k in range(n + 1):
        ci = method(k, n)
        if ci.low <= p <= ci.high:
            total += float(binom.pmf(k, n, p))
    return total


@pytest.mark.parametrize(("p", "n"), COVERAGE_CASES)
def test_clopper_pearson_covers_the_true_rate_in_simulation(p: float, n: int) -> None:
    coverage = _simulated_coverage(clopper_pearson, p, n, draws=2000, seed=20261127)
    assert coverage >= 0.95, f"simulated coverage {coverage:.4f} at p={p}, n={n}"


@pytest.mark.parametrize(("p", "n"), COVERAGE_CASES)
def test_clopper_pearson_exact_coverage_is_at_least_nominal(p: float, n: int) -> None:
    assert _exact_coverage(clopper_pearson, p, n) >= 0.95


def test_the_coverage_check_can_fail_for_an_interval_that_undercovers() -> None:
    # The Wald interval p +- z sqrt(p(1-p)/n) is known to undercover near 0 and 1; if
    # the check above could not catch that it would prove nothing.
    def wald(k: int, n: int) -> Interval:
        est = k / n
        half = 1.959963984540054 * (est * (1 - est) / n) ** 0.5
        return Interval(est, est - half, est + half, "wald", 0.95)

    assert _simulated_coverage(wald, 0.99, 100, draws=2000, seed=20261127) < 0.95
    assert _exact_coverage(wald, 0.99, 100) < 0.95
