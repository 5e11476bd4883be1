"""harness.stats against known values, and the decisions built on it."""

from __future__ import annotations

import math
import time

import pytest

from harness import stats
from harness.stats import (
    Interval,
    clopper_pearson,
    compare_samples,
    decide,
    decide_max_rate,
    format_rate,
    jeffreys,
    lower_bound,
    min_samples_for_percentile,
    percentile_upper_bound_rank,
    summarize_recoveries,
    trials_needed,
    upper_bound,
    wilson,
)

# ------------------------------------------------------------------- known values


def test_clopper_pearson_53_of_57_matches_the_design_figure() -> None:
    ci = clopper_pearson(53, 57)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.8300, 0.9805)
    assert ci.estimate == pytest.approx(53 / 57)
    assert ci.method == "clopper-pearson"
    assert ci.confidence == 0.95


def test_format_rate_shows_k_over_n_with_interval() -> None:
    assert format_rate(53, 57, clopper_pearson(53, 57)) == "53/57 [0.8300, 0.9805] (95% CP)"
    assert format_rate(3, 4, wilson(3, 4, 0.99)).endswith("(99% Wilson)")


def test_wilson_and_jeffreys_match_reference_values() -> None:
    # Wilson against the textbook closed form (Wilson 1927), computed here independently.
    k, n, z = 53, 57, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    w = wilson(k, n)
    assert (w.low, w.high) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert (round(w.low, 4), round(w.high, 4)) == (0.8330, 0.9724)
    # Jeffreys: equal-tailed quantiles of Beta(53.5, 4.5), pinned to 4 dp.
    j = jeffreys(53, 57)
    assert (round(j.low, 4), round(j.high, 4)) == (0.8417, 0.9759)


def test_zero_failures_use_the_exact_one_sided_closed_form() -> None:
    # With k == n the one-sided lower bound is alpha ** (1/n).
    assert lower_bound(100, 100) == pytest.approx(0.05 ** (1 / 100))
    assert upper_bound(0, 100) == pytest.approx(1 - 0.05 ** (1 / 100))


def test_interval_to_json_has_the_report_keys() -> None:
    assert clopper_pearson(1, 2).to_json().keys() == {
        "estimate",
        "low",
        "high",
        "method",
        "confidence",
    }


def test_no_trials_give_the_whole_unit_interval() -> None:
    for fn in (clopper_pearson, wilson, jeffreys):
        ci = fn(0, 0)
        assert (ci.low, ci.high) == (0.0, 1.0)
    assert lower_bound(0, 0) == 0.0
    assert upper_bound(0, 0) == 1.0


# ------------------------------------------------------------------- trials needed


def test_trials_needed_follows_the_rule_of_three() -> None:
    assert trials_needed(0.999, 0, 0) == 2995
    assert trials_needed(0.99999, 0, 0) == 299572


def test_trials_needed_is_the_smallest_sufficient_count() -> None:
    m = trials_needed(0.99, 49, 50)
    assert lower_bound(49 + m, 50 + m) >= 0.99
    assert lower_bound(49 + m - 1, 50 + m - 1) < 0.99


def test_trials_needed_is_zero_when_the_claim_already_holds() -> None:
    assert trials_needed(0.9, 1000, 1000) == 0


def test_trials_needed_is_fast_for_extreme_targets() -> None:
    start = time.perf_counter()
    assert trials_needed(0.999999, 10, 20) > 1_000_000
    # Bisection costs ~50 quantile evaluations; a loop over m would take minutes.
    assert time.perf_counter() - start < 1.0


def test_59_clean_recoveries_suffice_for_95_percent() -> None:
    assert trials_needed(0.95, 0, 0) == 59


# --------------------------------------------------------------------- decisions


def test_decide_passes_when_the_lower_bound_clears_the_target() -> None:
    assert decide(3000, 3000, 0.999) == "pass"


def test_decide_fails_when_the_upper_bound_misses_the_target() -> None:
    assert decide(90, 100, 0.99) == "fail"


def test_decide_is_insufficient_when_the_interval_straddles_the_target() -> None:
    assert decide(100, 100, 0.999) == "insufficient"
    assert decide(0, 0, 0.5) == "insufficient"


def test_decide_max_rate_three_ways() -> None:
    assert decide_max_rate(0, 1000, 0.01) == "pass"
    assert decide_max_rate(100, 1000, 0.01) == "fail"
    assert decide_max_rate(1, 10, 0.01) == "insufficient"
    assert decide_max_rate(0, 0, 0.01) == "insufficient"


def test_decide_max_rate_zero_tolerance_fails_on_any_error() -> None:
    assert decide_max_rate(1, 10_000, 0.0) == "fail"
    assert decide_max_rate(0, 10_000, 0.0) == "insufficient"


# -------------------------------------------------------------------- percentiles


@pytest.mark.parametrize(("q", "n"), [(0.95, 59), (0.99, 299), (0.999, 2995)])
def test_min_samples_for_percentile(q: float, n: int) -> None:
    assert min_samples_for_percentile(q) == n
    assert 1 - q**n >= 0.95 > 1 - q ** (n - 1)


@pytest.mark.parametrize(("q", "n"), [(0.95, 59), (0.99, 299), (0.999, 2995)])
def test_percentile_rank_is_the_maximum_at_the_minimum_sample(q: float, n: int) -> None:
    assert percentile_upper_bound_rank(n, q) == n
    assert percentile_upper_bound_rank(n - 1, q) is None


def test_percentile_rank_moves_below_the_maximum_with_more_samples() -> None:
    r = percentile_upper_bound_rank(1000, 0.95)
    assert r is not None
    assert 950 < r < 1000
    # Binomial check: P(Bin(1000, .95) <= r-1) >= .95 and r is the smallest such rank.
    from scipy.stats import binom

    assert binom.cdf(r - 1, 1000, 0.95) >= 0.95 > binom.cdf(r - 2, 1000, 0.95)


# ------------------------------------------------------------------- Mann-Whitney


def test_compare_samples_detects_a_clear_shift() -> None:
    baseline = [10.0 + 0.1 * i for i in range(30)]
    current = [x + 5.0 for x in baseline]
    result = compare_samples(baseline, current, min_effect=1.0)
    assert result.significant
    assert result.regressed
    assert result.effect == pytest.approx(5.0)
    assert result.p_value < 0.001
    assert result.noise_method == "iqr"
    assert result.noise == pytest.approx(1.45)


def test_compare_samples_does_not_flag_identical_samples() -> None:
    sample = [1.0, 2.0, 3.0, 4.0, 5.0] * 6
    result = compare_samples(sample, list(sample), min_effect=0.0)
    assert not result.significant
    assert not result.regressed
    assert result.effect == 0.0


def test_compare_samples_does_not_flag_constant_equal_samples() -> None:
    result = compare_samples([2.0] * 20, [2.0] * 20, min_effect=0.1)
    assert result.p_value == 1.0
    assert not result.regressed


def test_compare_samples_ignores_a_significant_shift_below_min_effect() -> None:
    baseline = [10.0 + 0.01 * i for i in range(40)]
    current = [x + 0.5 for x in baseline]
    result = compare_samples(baseline, current, min_effect=1.0)
    assert result.significant
    assert not result.regressed


def test_compare_samples_is_one_sided() -> None:
    baseline = [10.0 + 0.1 * i for i in range(30)]
    faster = [x - 5.0 for x in baseline]
    result = compare_samples(baseline, faster, min_effect=0.0)
    assert not result.significant
    assert result.p_value > 0.99


# ----------------------------------------------------------------------- recovery


def test_summarize_recoveries_counts_and_percentiles() -> None:
    s = summarize_recoveries([0.4, 0.5, None, 1.2], limit_s=1.0)
    assert (s.n, s.recovered, s.unrecovered, s.within_limit) == (4, 3, 1, 2)
    assert (s.p50_s, s.p95_s, s.max_s) == (0.5, 1.2, 1.2)
    assert s.claim is not None
    assert s.claim.estimate == 0.5
    assert s.trials_needed > 59


def test_summarize_recoveries_59_clean_ones_suffice() -> None:
    s = summarize_recoveries([0.3] * 59, limit_s=1.0)
    assert s.trials_needed == 0
    assert summarize_recoveries([0.3] * 58, limit_s=1.0).trials_needed == 1


def test_summarize_recoveries_without_data() -> None:
    s = summarize_recoveries([], limit_s=None)
    assert (s.n, s.p50_s, s.claim) == (0, None, None)
    assert s.trials_needed == 59


def test_summarize_recoveries_without_limit_claims_recovery_at_all() -> None:
    s = summarize_recoveries([5.0, None], limit_s=None)
    assert s.within_limit == 1


# --------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: clopper_pearson(-1, 5), "k=-1"),
        (lambda: clopper_pearson(6, 5), "k=6"),
        (lambda: wilson(1, -2), "n=-2"),
        (lambda: jeffreys(1, 2, confidence=1.0), "confidence=1.0"),
        (lambda: lower_bound(1, 2, confidence=0.0), "confidence=0.0"),
        (lambda: trials_needed(1.0, 0, 0), "target=1.0"),
        (lambda: decide(1, 2, target=0.0), "target=0.0"),
        (lambda: decide_max_rate(3, 2, 0.1), "bad=3"),
        (lambda: decide_max_rate(1, 2, 1.5), "max_rate=1.5"),
        (lambda: min_samples_for_percentile(95), "q=95"),
        (lambda: compare_samples([], [1.0], 0.0), "baseline has 0"),
        (lambda: compare_samples([1.0], [1.0], -1.0), "min_effect=-1.0"),
        (lambda: summarize_recoveries([-1.0], 1.0), "recovery_s"),
        (lambda: clopper_pearson(1.5, 3), "k=1.5"),  # type: ignore[arg-type]
    ],
)
def test_invalid_arguments_name_argument_value_and_valid_range(call, names) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=names) as info:
        call()
    message = str(info.value)
    assert "must" in message or "need" in message


def test_module_exports_the_documented_api() -> None:
    for name in stats.__all__:
        assert hasattr(stats, name)
    assert isinstance(clopper_pearson(1, 1), Interval)
    assert math.isclose(clopper_pearson(1, 1).estimate, 1.0)
