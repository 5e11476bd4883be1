"""Rules that end a load early, judged on its live progress (about once a second).

``abort_on_fail`` (k6's): the gates so marked (``gates.abort_on_fail`` and
``[[gates.requests]]`` entries with ``abort_on_fail = true``) are judged on what the load
has measured so far, by the same pure code as at the end (:mod:`harness.request_gates`);
the first that fails ends the load. The live figures come from the histograms the load
processes send with their progress (``LoadSpec.live_progress``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.gates import GateThresholds, LoadEvidence

if TYPE_CHECKING:
    from harness.load.result import LoadProgress, SuccessProof

__all__ = [
    "ABORT_ON_FAIL",
    "NINES",
    "StopRule",
    "abort_rule",
    "first_of",
    "live_evidence",
    "proof_of",
    "proof_rule",
    "wants_live_progress",
]

ABORT_ON_FAIL = "abort_on_fail"
NINES = "nines"
StopRule = Callable[["LoadProgress"], "tuple[str, str] | None"]


def proof_of(
    target: float, budget: int | None, requests: int, failures: int, duration_s: float = 0.0
) -> SuccessProof:
    """Where a claim of request success >= ``target`` stands after ``requests`` with
    ``failures``: proven on the one-sided 95% lower bound, impossible within ``budget``
    requests (even with every one left a success), or not shown yet."""
    from harness import stats
    from harness.load.result import SuccessProof

    good = requests - failures
    low = stats.lower_bound(good, requests) if requests else 0.0
    needed: int | None = None
    if requests and low >= target:
        outcome = "proven"
    elif budget is not None and stats.lower_bound(budget - failures, budget) < target:
        outcome = "impossible"
    else:
        outcome = "not shown"
        needed = stats.trials_needed(target, good, requests)
    return SuccessProof(target, requests, failures, duration_s, low, outcome, budget, needed)


def proof_rule(target: float, budget: int | None) -> StopRule:
    """Stop once request success >= ``target`` is proven, or made impossible within
    ``budget`` requests by the failures so far (the nines profile)."""

    def rule(progress: LoadProgress) -> tuple[str, str] | None:
        proof = proof_of(target, budget, progress.requests, progress.failures)
        if proof.outcome == "proven":
            return NINES, (
                f"request success >= {target} proven: {proof.requests - proof.failures:,}/"
                f"{proof.requests:,}, one-sided 95% lower bound {proof.lower_bound:.7f}"
            )
        if proof.outcome == "impossible":
            return NINES, (
                f"request success >= {target} cannot be shown within the budget of "
                f"{budget:,} requests: {proof.failures:,} failed of {proof.requests:,}"
            )
        return None

    return rule


def first_of(*rules: StopRule | None) -> StopRule | None:
    """One stop rule judging ``rules`` in order (None when there is none)."""
    given = [r for r in rules if r is not None]
    if not given:
        return None

    def rule(progress: LoadProgress) -> tuple[str, str] | None:
        for each in given:
            if (verdict := each(progress)) is not None:
                return verdict
        return None

    return rule


def live_evidence(progress: LoadProgress) -> LoadEvidence | None:
    """The gates' evidence from one live snapshot (None without its histograms)."""
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate

    if progress.histogram is None:
        return None

    def evidence(requests: int, failures: int, encoded: str) -> LoadEvidence:
        hist = decode_histogram(encoded)
        p95, p99 = percentile_estimate(hist, 0.95), percentile_estimate(hist, 0.99)
        return LoadEvidence(requests, failures, 0.0, p95, p99)

    total = evidence(progress.requests, progress.failures, progress.histogram)
    by_request = tuple((n, evidence(r, f, h)) for n, r, f, h in progress.by_request)
    return LoadEvidence(
        total.requests, total.failures, 0.0, total.p95, total.p99, by_request=by_request
    )


def wants_live_progress(gates: GateThresholds | None) -> bool:
    """True when a gate is marked abort_on_fail (the load must then send its histograms)."""
    if gates is None:
        return False
    marked = getattr(gates, "abort_on_fail", None) or ()
    rules = getattr(gates, "requests", None) or ()
    return bool(marked) or any(rule.abort_on_fail for rule in rules)


def abort_rule(gates: GateThresholds) -> StopRule:
    """The stop rule of the gates marked abort_on_fail: ``("abort_on_fail", why)`` once one
    fails on the load so far."""
    from harness.request_gates import abort_reason

    def rule(progress: LoadProgress) -> tuple[str, str] | None:
        evidence = live_evidence(progress)
        if evidence is None:
            return None
        failed = abort_reason(gates, evidence)
        if failed is None:
            return None
        return ABORT_ON_FAIL, f"gate {failed.name} (abort_on_fail) failed: {failed.detail}"

    return rule
