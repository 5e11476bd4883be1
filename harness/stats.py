"""Honest numbers: binomial intervals, evidence-based decisions, percentiles, regressions.

Pure maths, no I/O, no clocks, no printing: every function takes numbers and returns
numbers, which is what lets the property tests in ``tests/unit/test_stats*.py`` prove it.

A reliability figure is always ``k/n`` with its interval, never a bare percentage:

>>> format_rate(53, 57, clopper_pearson(53, 57))
'53/57 [0.8300, 0.9805] (95% CP)'

Conventions used throughout:

- ``k`` successes out of ``n`` trials; the trial is one repeated run of the same test
  or request, never a count of distinct tests.
- Two-sided intervals (:func:`clopper_pearson`, :func:`wilson`, :func:`jeffreys`) put
  ``(1 - confidence) / 2`` in each tail; the one-sided bounds (:func:`lower_bound`,
  :func:`upper_bound`) put all of ``1 - confidence`` in one tail, which is what a claim
  against a target ("at least 99.9%") needs.
- With ``n == 0`` there is no evidence: intervals are ``[0, 1]`` with estimate ``0.0``
  and every decision is ``"insufficient"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

# scipy.special, not scipy.stats: half the import time, and these are the same functions
# (beta.ppf is betaincinv, binom.cdf is bdtr, norm.ppf is ndtri)
from scipy import special as _special

__all__ = [
    "Decision",
    "Interval",
    "PercentileEstimate",
    "RecoverySummary",
    "Regression",
    "clopper_pearson",
    "compare_samples",
    "decide",
    "decide_max_rate",
    "format_rate",
    "jeffreys",
    "lower_bound",
    "min_samples_for_percentile",
    "percentile_lower_bound_rank",
    "percentile_upper_bound_rank",
    "poisson_rate_lower",
    "poisson_rate_upper",
    "summarize_recoveries",
    "trials_needed",
    "upper_bound",
    "wilson",
]

Decision = Literal["pass", "fail", "insufficient"]

# Short names for format_rate; unknown methods are shown as given.
_METHOD_ABBREVIATIONS = {"clopper-pearson": "CP", "wilson": "Wilson", "jeffreys": "Jeffreys"}


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate of a proportion with its confidence interval."""

    estimate: float
    low: float
    high: float
    method: str
    confidence: float

    def to_json(self) -> dict[str, float | str]:
        """The interval as report.json stores it (keys estimate, low, high, method, confidence)."""
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class PercentileEstimate:
    """A latency percentile with order-statistic confidence bounds (None when n is too small)."""

    q: float
    n: int
    estimate_ms: float
    low_ms: float | None
    high_ms: float | None


@dataclass(frozen=True, slots=True)
class Regression:
    """The verdict of :func:`compare_samples` on a baseline and a current sample.

    ``effect`` is ``current_median - baseline_median`` in the samples' unit; ``noise`` is
    the baseline's interquartile range (``noise_method == "iqr"``) in the same unit, so a
    reader can see whether ``min_effect`` was set above the run-to-run scatter.
    """

    baseline_median: float
    current_median: float
    effect: float
    p_value: float
    min_effect: float
    significant: bool
    regressed: bool
    noise: float
    noise_method: str = "iqr"
    n_baseline: int = 0
    n_current: int = 0


@dataclass(frozen=True, slots=True)
class RecoverySummary:
    """Recovery times of repeated fault injections, and what they let us claim.

    ``claim`` is the Clopper-Pearson interval of ``within_limit / n`` (recoveries within
    ``limit_s``; every recovery when there is no limit); ``trials_needed`` is how many more
    clean injections would let us claim ``target`` of recoveries within the limit.
    """

    n: int
    recovered: int
    unrecovered: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    within_limit: int
    limit_s: float | None
    claim: Interval | None
    trials_needed: int

    def to_json(self) -> dict[str, Any]:
        """The ``recovery_summary`` of a chaos experiment in report.json."""
        return {
            "n": self.n,
            "recovered": self.recovered,
            "unrecovered": self.unrecovered,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "max_s": self.max_s,
            "limit_s": self.limit_s,
            "within_limit": self.within_limit,
            "claim": self.claim.to_json() if self.claim else None,
            "claim_text": (
                f"{self.within_limit}/{self.n} recoveries within {self.limit_s} s, "
                f"95% CI [{self.claim.low:.4f}, {self.claim.high:.4f}]"
                if self.claim and self.n
                else None
            ),
            "trials_needed": self.trials_needed,
        }


# --------------------------------------------------------------------------- validation


def _check_counts(k: int, n: int, k_name: str = "k") -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"invalid n={n!r}: the number of trials must be an integer >= 0")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= n:
        raise ValueError(f"invalid {k_name}={k!r} for n={n}: must be an integer in [0, n]")


def _check_open_unit(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise ValueError(f"invalid {name}={value!r}: must be a number strictly between 0 and 1")


# ------------------------------------------------------------------------- intervals


def _estimate(k: int, n: int) -> float:
    return k / n if n else 0.0


def _interval(k: int, n: int, low: float, high: float, method: str, conf: float) -> Interval:
    est = _estimate(k, n)
    # Clamp float noise (e.g. Wilson's low bound at k=0 can come out as -1e-17) so that
    # 0 <= low <= estimate <= high <= 1 always holds.
    low = min(max(float(low), 0.0), est)
    high = max(min(float(high), 1.0), est)
    return Interval(estimate=est, low=low, high=high, method=method, confidence=conf)


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Two-sided exact (Clopper-Pearson) interval for ``k`` successes in ``n`` trials.

    Conservative: its coverage is at least ``confidence`` for every true proportion.
    """
    _check_counts(k, n)
    _check_open_unit("confidence", confidence)
    tail = (1.0 - confidence) / 2.0
    if n == 0:
        return _interval(0, 0, 0.0, 1.0, "clopper-pearson", confidence)
    low = 0.0 if k == 0 else _special.betaincinv(k, n - k + 1, tail)
    high = 1.0 if k == n else _special.betaincinv(k + 1, n - k, 1.0 - tail)
    return _interval(k, n, low, high, "clopper-pearson", confidence)


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Two-sided Wilson score interval (no continuity correction)."""
    _check_counts(k, n)
    _check_open_unit("confidence", confidence)
    if n == 0:
        return _interval(0, 0, 0.0, 1.0, "wilson", confidence)
    z = float(_special.ndtri(1.0 - (1.0 - confidence) / 2.0))
    p_hat = k / n
    denominator = 1.0 + z * z / n
    centre = (p_hat + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / denominator
    return _interval(k, n, max(0.0, centre - half), min(1.0, centre + half), "wilson", confidence)


def jeffreys(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Two-sided Jeffreys interval: equal-tailed Beta(k+1/2, n-k+1/2) posterior quantiles.

    Uses the Brown-Cai-DasGupta boundary convention: low is 0 at ``k == 0`` and high is 1
    at ``k == n``.
    """
    _check_counts(k, n)
    _check_open_unit("confidence", confidence)
    tail = (1.0 - confidence) / 2.0
    if n == 0:
        return _interval(0, 0, 0.0, 1.0, "jeffreys", confidence)
    low = 0.0 if k == 0 else _special.betaincinv(k + 0.5, n - k + 0.5, tail)
    high = 1.0 if k == n else _special.betaincinv(k + 0.5, n - k + 0.5, 1.0 - tail)
    return _interval(k, n, low, high, "jeffreys", confidence)


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound: the true rate is >= this with ``confidence``."""
    _check_counts(k, n)
    _check_open_unit("confidence", confidence)
    if k == 0:
        return 0.0
    return float(_special.betaincinv(k, n - k + 1, 1.0 - confidence))


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound: the true rate is <= this with ``confidence``."""
    _check_counts(k, n)
    _check_open_unit("confidence", confidence)
    if k == n:
        return 1.0
    return float(_special.betaincinv(k + 1, n - k, confidence))


# ------------------------------------------------------------------------- decisions


def trials_needed(target: float, k: int, n: int, confidence: float = 0.95) -> int:
    """How many more trials, all passing, until ``lower_bound(k+m, n+m) >= target``.

    0 when the evidence already supports the target. With no failures this is the rule
    of three: ``trials_needed(0.999, 0, 0) == 2995`` because ``-ln(0.05) = 2.996``.
    Found by doubling then bisection on ``m`` (the bound grows with ``m`` at a fixed
    failure count), so it costs ~2 log2(m) quantile evaluations, not ``m``.
    """
    _check_counts(k, n)
    _check_open_unit("target", target)
    _check_open_unit("confidence", confidence)

    def enough(m: int) -> bool:
        return lower_bound(k + m, n + m, confidence) >= target

    if enough(0):
        return 0
    hi = 1
    while not enough(hi):
        hi *= 2
    lo = hi // 2  # enough(lo) is False: either lo == 0 or it failed in the doubling loop
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def decide(k: int, n: int, target: float, confidence: float = 0.95) -> Decision:
    """Judge a success rate against a minimum ``target`` on the evidence of ``k/n``.

    ``"pass"`` when the one-sided lower bound reaches the target, ``"fail"`` when the
    one-sided upper bound is below it, otherwise (and always with ``n == 0``)
    ``"insufficient"``.
    """
    _check_counts(k, n)
    _check_open_unit("target", target)
    _check_open_unit("confidence", confidence)
    if n == 0:
        return "insufficient"
    if lower_bound(k, n, confidence) >= target:
        return "pass"
    if upper_bound(k, n, confidence) < target:
        return "fail"
    return "insufficient"


def decide_max_rate(bad: int, n: int, max_rate: float, confidence: float = 0.95) -> Decision:
    """Judge an error rate ``bad/n`` against a ceiling ``max_rate`` (in [0, 1]).

    ``"pass"`` when the one-sided upper bound is <= ``max_rate``, ``"fail"`` when the
    one-sided lower bound is above it, otherwise (and always with ``n == 0``)
    ``"insufficient"``.
    """
    _check_counts(bad, n, "bad")
    if not (isinstance(max_rate, int | float) and 0.0 <= max_rate <= 1.0):
        raise ValueError(f"invalid max_rate={max_rate!r}: must be a number in [0, 1]")
    _check_open_unit("confidence", confidence)
    if n == 0:
        return "insufficient"
    if upper_bound(bad, n, confidence) <= max_rate:
        return "pass"
    if lower_bound(bad, n, confidence) > max_rate:
        return "fail"
    return "insufficient"


# ------------------------------------------------------------------------ percentiles


def min_samples_for_percentile(q: float, confidence: float = 0.95) -> int:
    """Smallest ``n`` whose sample maximum is an upper confidence bound for the q-quantile.

    Solves ``1 - q**n >= confidence``: p95 needs 59, p99 299, p99.9 2995.
    """
    _check_open_unit("q", q)
    _check_open_unit("confidence", confidence)
    n = max(1, math.ceil(math.log1p(-confidence) / math.log(q)))
    # Guard the ceiling against float error on either side of an exact boundary.
    while 1.0 - q**n < confidence:
        n += 1
    while n > 1 and 1.0 - q ** (n - 1) >= confidence:
        n -= 1
    return n


def percentile_upper_bound_rank(n: int, q: float, confidence: float = 0.95) -> int | None:
    """1-based rank ``r`` such that the order statistic ``x_(r)`` bounds the q-quantile above.

    ``P(x_(r) >= quantile) = P(Binomial(n, q) <= r - 1)``; the smallest ``r`` making that
    at least ``confidence`` is returned, or ``None`` when even the maximum is not enough
    (``n < min_samples_for_percentile(q, confidence)``).
    """
    _check_counts(0, n)
    _check_open_unit("q", q)
    _check_open_unit("confidence", confidence)
    if n == 0:
        return None
    if _special.bdtr(n - 1, n, q) < confidence:
        return None
    # bisection for the smallest r with P(Binomial(n, q) <= r - 1) >= confidence
    low, high = 1, n
    while low < high:
        mid = (low + high) // 2
        if _special.bdtr(mid - 1, n, q) >= confidence:
            high = mid
        else:
            low = mid + 1
    return low


# ------------------------------------------------------------------------ regressions


def percentile_lower_bound_rank(n: int, q: float, confidence: float = 0.95) -> int | None:
    """Largest 1-based rank r with P(x_(r) <= q-quantile) >= confidence, or None."""
    # x_(r) <= xi_q  iff  at least r of n samples fall at or under xi_q: Binomial(n, q) >= r
    best = None
    low, high = 1, n
    while low <= high:
        mid = (low + high) // 2
        if float(_special.bdtrc(mid - 1, n, q)) >= confidence:  # P(Binomial(n, q) >= mid)
            best = mid
            low = mid + 1
        else:
            high = mid - 1
    return best


def compare_samples(
    baseline: Sequence[float],
    current: Sequence[float],
    min_effect: float,
    alpha: float = 0.05,
) -> Regression:
    """Is ``current`` larger (slower, worse) than ``baseline``, by more than ``min_effect``?

    One-sided Mann-Whitney U test (alternative: current is stochastically larger).
    ``regressed`` needs both: the test is significant at ``alpha`` and the median shift
    exceeds ``min_effect``, so a tiny but consistent shift is not flagged.
    """
    if len(baseline) == 0 or len(current) == 0:
        raise ValueError(
            f"invalid samples: baseline has {len(baseline)} and current has {len(current)} "
            "values; both need at least 1"
        )
    if not (isinstance(min_effect, int | float) and min_effect >= 0):
        raise ValueError(f"invalid min_effect={min_effect!r}: must be a number >= 0")
    _check_open_unit("alpha", alpha)
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if not (np.isfinite(base).all() and np.isfinite(cur).all()):
        raise ValueError("invalid samples: baseline and current must be finite numbers")
    if np.ptp(np.concatenate([base, cur])) == 0.0:
        # All values tie: there is no evidence of a shift (and scipy would divide by 0).
        p_value = 1.0
    else:
        from scipy.stats import mannwhitneyu  # heavy import, only when comparing runs

        p_value = float(mannwhitneyu(cur, base, alternative="greater").pvalue)
    base_median = float(np.median(base))
    cur_median = float(np.median(cur))
    q75, q25 = np.percentile(base, [75, 25])
    effect = cur_median - base_median
    significant = p_value < alpha
    return Regression(
        baseline_median=base_median,
        current_median=cur_median,
        effect=effect,
        p_value=p_value,
        min_effect=float(min_effect),
        significant=significant,
        regressed=significant and effect > min_effect,
        noise=float(q75 - q25),
        noise_method="iqr",
        n_baseline=int(base.size),
        n_current=int(cur.size),
    )


# --------------------------------------------------------------------------- events


def _check_exposure(events: int, exposure: float) -> None:
    if not (isinstance(events, int) and events >= 0):
        raise ValueError(f"invalid events={events!r}: must be an integer >= 0")
    if not (isinstance(exposure, int | float) and math.isfinite(exposure) and exposure > 0):
        raise ValueError(f"invalid exposure={exposure!r}: must be a finite number > 0")


def poisson_rate_upper(events: int, exposure: float, confidence: float = 0.95) -> float:
    """One-sided exact upper bound on an event rate from ``events`` seen in ``exposure``
    (events per unit of exposure): the true rate is <= this with ``confidence``.

    None seen in T gives -ln(1 - confidence) / T, about 3 / T at 95%."""
    _check_exposure(events, exposure)
    _check_open_unit("confidence", confidence)
    return float(_special.gammaincinv(events + 1, confidence)) / exposure


def poisson_rate_lower(events: int, exposure: float, confidence: float = 0.95) -> float:
    """One-sided exact lower bound on an event rate (0 when no event was seen)."""
    _check_exposure(events, exposure)
    _check_open_unit("confidence", confidence)
    if events == 0:
        return 0.0
    return float(_special.gammaincinv(events, 1.0 - confidence)) / exposure


# -------------------------------------------------------------------------- recovery


def summarize_recoveries(
    recovery_s: Sequence[float | None],
    limit_s: float | None,
    target: float = 0.95,
    confidence: float = 0.95,
) -> RecoverySummary:
    """Summarise recovery times of fault injections (``None`` = never recovered).

    Percentiles are nearest-rank over the recovered injections (a value that was
    observed, not an interpolation). With no failures, 59 clean injections suffice to
    claim 95% of recoveries within the limit at 95% confidence.
    """
    _check_open_unit("target", target)
    _check_open_unit("confidence", confidence)
    if limit_s is not None and not (isinstance(limit_s, int | float) and limit_s >= 0):
        raise ValueError(f"invalid limit_s={limit_s!r}: must be a number >= 0 or None")
    times = [t for t in recovery_s if t is not None]
    if any(not math.isfinite(t) or t < 0 for t in times):
        raise ValueError(f"invalid recovery_s={list(recovery_s)!r}: times must be finite and >= 0")
    n = len(recovery_s)
    within = len(times) if limit_s is None else sum(1 for t in times if t <= limit_s)
    p50 = p95 = max_s = None
    if times:
        arr = np.asarray(times, dtype=float)
        p50 = float(np.percentile(arr, 50, method="inverted_cdf"))
        p95 = float(np.percentile(arr, 95, method="inverted_cdf"))
        max_s = float(arr.max())
    return RecoverySummary(
        n=n,
        recovered=len(times),
        unrecovered=n - len(times),
        p50_s=p50,
        p95_s=p95,
        max_s=max_s,
        within_limit=within,
        limit_s=None if limit_s is None else float(limit_s),
        claim=clopper_pearson(within, n, confidence) if n else None,
        trials_needed=trials_needed(target, within, n, confidence),
    )


# -------------------------------------------------------------------------- display


def format_rate(k: int, n: int, interval: Interval) -> str:
    """``"53/57 [0.8300, 0.9805] (95% CP)"``: a rate as k/n with its interval."""
    _check_counts(k, n)
    method = _METHOD_ABBREVIATIONS.get(interval.method, interval.method)
    return (
        f"{k}/{n} [{interval.low:.4f}, {interval.high:.4f}] "
        f"({interval.confidence * 100:g}% {method})"
    )
