from harness.config import GateSettings
from harness.gates import (
    ChaosEvidence,
    Evidence,
    LoadEvidence,
    PercentileEstimate,
    SuiteEvidence,
    evaluate_gates,
    overall_outcome,
)


def _load(n: int = 5000, failures: int = 0, p95: float = 2.0) -> LoadEvidence:
    est = PercentileEstimate(0.95, n, p95, p95 * 0.9, p95 * 1.1)
    return LoadEvidence(n, failures, 500.0, est, PercentileEstimate(0.99, n, p95 * 2, None, None))


def _one(settings: GateSettings, evidence: Evidence):  # noqa: ANN202
    (result,) = evaluate_gates(settings, evidence)
    return result


def test_test_success_passes_when_lower_bound_clears_target() -> None:
    result = _one(GateSettings(test_success=0.9), Evidence(tests=SuiteEvidence(60, 60)))
    assert result.outcome == "pass"
    assert result.observed is not None
    assert result.observed >= 0.9


def test_test_success_is_insufficient_with_too_few_runs_and_says_how_many_more() -> None:
    result = _one(GateSettings(test_success=0.999), Evidence(tests=SuiteEvidence(10, 10)))
    assert result.outcome == "insufficient"
    assert result.trials_needed == 2995 - 10
    assert "more passing runs needed" in result.detail


def test_test_success_fails_when_upper_bound_misses_target() -> None:
    result = _one(GateSettings(test_success=0.9), Evidence(tests=SuiteEvidence(40, 60)))
    assert result.outcome == "fail"


def test_error_rate_gate_decides_on_bounds() -> None:
    assert _one(GateSettings(load_error_rate=0.01), Evidence(load=_load())).outcome == "pass"
    bad = Evidence(load=_load(failures=500))
    assert _one(GateSettings(load_error_rate=0.01), bad).outcome == "fail"
    few = Evidence(load=_load(n=100, failures=0))
    assert _one(GateSettings(load_error_rate=0.01), few).outcome == "insufficient"


def test_p95_gate_passes_fails_and_refuses_below_59_samples() -> None:
    assert _one(GateSettings(load_p95_ms=10), Evidence(load=_load())).outcome == "pass"
    assert _one(GateSettings(load_p95_ms=0.001), Evidence(load=_load())).outcome == "fail"
    small = LoadEvidence(
        58,
        0,
        1.0,
        PercentileEstimate(0.95, 58, 1.0, None, None),
        PercentileEstimate(0.99, 58, 1.0, None, None),
    )
    result = _one(GateSettings(load_p95_ms=10), Evidence(load=small))
    assert result.outcome == "insufficient"
    assert "at least 59" in result.detail


def test_p95_gate_is_insufficient_when_threshold_inside_bounds() -> None:
    result = _one(GateSettings(load_p95_ms=2.0), Evidence(load=_load(p95=2.0)))
    assert result.outcome == "insufficient"


def test_chaos_gate_fails_a_fault_without_visible_effect() -> None:
    ev = Evidence(chaos=(ChaosEvidence("latency", False, (0.1,)),))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert result.outcome == "fail"
    assert "no visible effect" in result.detail


def test_chaos_gate_fails_an_unrecovered_injection() -> None:
    ev = Evidence(chaos=(ChaosEvidence("latency", True, (0.1, None)),))
    assert _one(GateSettings(chaos_recovery_s=30), ev).outcome == "fail"


def test_missing_evidence_is_insufficient_never_a_pass() -> None:
    results = evaluate_gates(GateSettings(test_success=0.9, load_p95_ms=5), Evidence())
    assert {r.outcome for r in results} == {"insufficient"}
    assert overall_outcome(results) == "insufficient"


def test_overall_outcome_fail_beats_insufficient_beats_pass() -> None:
    ev = Evidence(tests=SuiteEvidence(60, 60), load=_load())
    results = evaluate_gates(GateSettings(test_success=0.9, load_p95_ms=0.001), ev)
    assert overall_outcome(results) == "fail"
    assert overall_outcome(evaluate_gates(GateSettings(test_success=0.9), ev)) == "pass"


def test_chaos_gate_names_the_experiment_error_rather_than_no_effect() -> None:
    ev = Evidence(chaos=(ChaosEvidence("db", True, (0.1,), error="error budget broken"),))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert result.outcome == "fail"
    assert "db: error budget broken" in result.detail
    assert "no visible effect" not in result.detail
