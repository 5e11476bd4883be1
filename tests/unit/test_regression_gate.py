"""The regression gate over what the comparison flagged: a latency shift of a percentile
measured at the generator's floor is not counted against the target."""

from __future__ import annotations

from harness.phases.regression_phase import _at_floor
from harness.regression_gate import RegressionEvidence, regression_gate

P95 = "latency p95 (ms): 3.449 -> 6.963 (worse by +3.51, minimum effect 1; bounds apart)"
DROP = "throughput drop (%): 100 -> 80 (worse by +20, minimum effect 10; Welch)"
METRICS = ("latency p50 (ms)", "latency p95 (ms)", "throughput drop (%)")


def test_a_shift_at_the_floor_alone_is_insufficient_never_a_fail() -> None:
    evidence = RegressionEvidence("run-1", METRICS, (P95,), at_floor=(P95,))
    decision = regression_gate(evidence, 0.0)
    assert decision.outcome == "insufficient"
    assert decision.observed == 0.0
    assert "not counted, at the generator's floor" in decision.detail
    assert P95 in decision.detail


def test_a_regression_clear_of_the_floor_still_fails() -> None:
    evidence = RegressionEvidence("run-1", METRICS, (P95, DROP), at_floor=(P95,))
    decision = regression_gate(evidence, 0.0)
    assert decision.outcome == "fail"
    assert decision.observed == 1.0  # the throughput drop; the p95 shift is not counted


def test_without_the_floor_a_shift_fails_as_before() -> None:
    assert regression_gate(RegressionEvidence("run-1", METRICS, (P95,)), 0.0).outcome == "fail"
    assert regression_gate(RegressionEvidence("run-1", METRICS, ()), 0.0).outcome == "pass"


def test_at_floor_reads_the_runs_own_flags() -> None:
    report = {"load": {"floor": {"at_floor": {"p50": False, "p95": True}}}}
    assert _at_floor(report, "latency p95 (ms)")
    assert not _at_floor(report, "latency p50 (ms)")
    assert not _at_floor(report, "throughput drop (%)")
    assert not _at_floor({"load": {}}, "latency p95 (ms)")  # no floor measured
    assert not _at_floor({}, "latency p95 (ms)")
