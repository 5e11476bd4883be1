import pydantic
import pytest

from harness import stats
from harness.config import GateSettings
from harness.gates import (
    ChaosEvidence,
    Evidence,
    LoadEvidence,
    PercentileEstimate,
    SuiteEvidence,
    TestEvidence,
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
    assert result.decided_on is not None
    assert result.decided_on >= 0.9


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


# -- observed is the point estimate; decided_on is the figure the outcome was decided on


def test_observed_is_k_over_n_and_decided_on_the_lower_bound_for_a_minimum() -> None:
    result = _one(GateSettings(test_success=0.8), Evidence(tests=SuiteEvidence(62, 62)))
    assert result.outcome == "pass"
    assert result.observed == 1.0
    assert result.decided_on == pytest.approx(stats.lower_bound(62, 62))
    assert result.decided_by == "one-sided 95% lower bound"


def test_a_minimum_that_fails_was_decided_on_its_upper_bound() -> None:
    result = _one(GateSettings(test_success=0.9), Evidence(tests=SuiteEvidence(40, 60)))
    assert result.outcome == "fail"
    assert result.observed == pytest.approx(40 / 60)
    assert result.decided_on == pytest.approx(stats.upper_bound(40, 60))
    assert result.decided_on is not None
    assert result.decided_on < 0.9
    assert result.decided_by == "one-sided 95% upper bound"


def test_error_rate_observed_is_the_point_estimate_decided_on_the_upper_bound() -> None:
    result = _one(GateSettings(load_error_rate=0.01), Evidence(load=_load(failures=5)))
    assert result.outcome == "pass"
    assert result.observed == pytest.approx(5 / 5000)
    assert result.decided_on == pytest.approx(stats.upper_bound(5, 5000))
    assert result.decided_by == "one-sided 95% upper bound"
    failed = _one(GateSettings(load_error_rate=0.01), Evidence(load=_load(failures=500)))
    assert failed.decided_on == pytest.approx(stats.lower_bound(500, 5000))
    assert failed.decided_by == "one-sided 95% lower bound"


def test_latency_observed_is_the_percentile_decided_on_its_order_statistic_bound() -> None:
    result = _one(GateSettings(load_p95_ms=10), Evidence(load=_load(p95=2.0)))
    assert (result.observed, result.decided_on) == (2.0, pytest.approx(2.2))
    assert result.decided_by == "95% order-statistic upper bound"
    failed = _one(GateSettings(load_p95_ms=0.001), Evidence(load=_load(p95=2.0)))
    assert (failed.observed, failed.decided_on) == (2.0, pytest.approx(1.8))
    assert failed.decided_by == "95% order-statistic lower bound"


def test_a_percentile_with_too_few_samples_was_decided_on_nothing() -> None:
    small = LoadEvidence(
        58,
        0,
        1.0,
        PercentileEstimate(0.95, 58, 1.0, None, None),
        PercentileEstimate(0.99, 58, 1.0, None, None),
    )
    result = _one(GateSettings(load_p95_ms=10), Evidence(load=small))
    assert result.observed == 1.0
    assert result.decided_on is None


def test_throughput_is_decided_on_the_measured_value() -> None:
    result = _one(GateSettings(load_min_rps=100), Evidence(load=_load()))
    assert result.observed == result.decided_on == 500.0
    assert result.decided_by is not None


def test_chaos_gate_is_decided_on_the_slowest_recovery() -> None:
    ev = Evidence(chaos=(ChaosEvidence("latency", True, (0.1, 0.3, 0.2)),))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert result.outcome == "pass"
    assert result.observed == result.decided_on == 0.3


def test_every_gate_keeps_the_report_json_fields_and_adds_decided_on() -> None:
    ev = Evidence(
        tests=SuiteEvidence(60, 60),
        load=_load(),
        chaos=(ChaosEvidence("latency", True, (0.1,)),),
    )
    settings = GateSettings(
        test_success=0.9,
        load_error_rate=0.01,
        load_p95_ms=10,
        load_p99_ms=10,
        load_min_rps=100,
        chaos_recovery_s=30,
    )
    results = evaluate_gates(settings, ev)
    assert len(results) == 6
    for result in results:
        body = result.to_json()
        assert {"name", "outcome", "observed", "threshold", "comparison", "detail"} <= set(body)
        assert {"n", "trials_needed", "decided_on", "decided_by"} <= set(body)


# -- chaos experiments that did not run


NOT_RUN = "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL"


def _not_run(name: str = "db-latency-under-load") -> ChaosEvidence:
    # what the chaos phase passes for harness.chaos.executor.not_run_result: no injection, so
    # one placeholder None, no effect, and the not-run error
    return ChaosEvidence(name, False, (None,), error=NOT_RUN)


@pytest.mark.parametrize(
    "experiment",
    [_not_run(), ChaosEvidence("db-latency-under-load", False, (), status="not_run")],
    ids=["flagged-by-its-error", "flagged-by-status"],
)
def test_chaos_gate_is_insufficient_when_no_experiment_ran(experiment: ChaosEvidence) -> None:
    result = _one(GateSettings(chaos_recovery_s=30), Evidence(chaos=(experiment,)))
    assert result.outcome == "insufficient"
    assert result.n == 0
    assert result.observed is None
    assert "not run: db-latency-under-load" in result.detail
    assert "not recovered" not in result.detail
    assert "no visible effect" not in result.detail
    assert "None" not in result.detail


def test_chaos_gate_names_why_an_experiment_did_not_run() -> None:
    result = _one(GateSettings(chaos_recovery_s=30), Evidence(chaos=(_not_run(),)))
    assert "needs PostgreSQL: set MOONBASE_DATABASE_URL" in result.detail


def test_an_experiment_that_did_not_run_adds_no_injection_to_the_count() -> None:
    ev = Evidence(chaos=(ChaosEvidence("api-latency", True, (0.1, 0.2)), _not_run()))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert result.n == 2
    assert result.detail.startswith(
        "2/2 injections recovered within their experiment's limit (api-latency 30 s)"
    )


def test_chaos_gate_cannot_pass_while_an_experiment_has_not_run() -> None:
    ev = Evidence(chaos=(ChaosEvidence("api-latency", True, (0.1,)), _not_run()))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert result.outcome == "insufficient"
    assert "not run: db-latency-under-load" in result.detail


def test_an_experiment_not_run_does_not_hide_a_failure_of_another() -> None:
    unrecovered = ChaosEvidence("api-kill", True, (0.1, None))
    no_effect = ChaosEvidence("api-latency", False, (0.1,))
    for failing in (unrecovered, no_effect):
        ev = Evidence(chaos=(failing, _not_run()))
        result = _one(GateSettings(chaos_recovery_s=30), ev)
        assert result.outcome == "fail", result.detail
        assert "not run: db-latency-under-load" in result.detail


def test_chaos_gate_detail_gives_seconds_to_three_significant_digits() -> None:
    ev = Evidence(chaos=(ChaosEvidence("api-latency", True, (0.0004617550002876669, 0.0002)),))
    result = _one(GateSettings(chaos_recovery_s=30), ev)
    assert "slowest 0.000462 s" in result.detail
    assert "0.0004617" not in result.detail


def _suite(*tests: tuple[str, int, int]) -> SuiteEvidence:
    per_test = tuple(TestEvidence(nodeid, passed, n) for nodeid, passed, n in tests)
    return SuiteEvidence(sum(t.passed for t in per_test), sum(t.n for t in per_test), per_test)


def test_test_success_fails_over_a_test_that_never_passes_whatever_the_pool() -> None:
    # the case: four tests 30/30 and one 0/30 pool to 120/150, which clears 0.7
    suite = _suite(*((f"t.py::ok{i}", 30, 30) for i in range(4)), ("t.py::broken", 0, 30))
    assert stats.decide(suite.passed, suite.n, 0.7) == "pass"  # the pool alone would pass
    result = _one(GateSettings(test_success=0.7), Evidence(tests=suite))
    assert result.outcome == "fail"
    assert "t.py::broken 0/30" in result.detail
    assert "whatever the pool" in result.detail
    assert result.trials_needed is None  # more reruns are not what it needs
    assert result.decided_by == "one-sided 95% upper bound of t.py::broken"
    assert result.decided_on == pytest.approx(stats.upper_bound(0, 30))


def test_test_success_leaves_an_undecided_test_at_or_above_the_threshold_to_the_pool() -> None:
    # 2/2 is undecided on its own (lower bound 0.2236) but not below 0.7: the pool decides
    suite = _suite(("t.py::a", 60, 60), ("t.py::b", 2, 2))
    result = _one(GateSettings(test_success=0.7), Evidence(tests=suite))
    assert result.outcome == "pass"


def test_test_slo_judges_each_test_on_its_own() -> None:
    slo = GateSettings(test_slo=0.9)
    decided = _suite(("t.py::a", 59, 59), ("t.py::b", 60, 60))
    assert _one(slo, Evidence(tests=decided)).outcome == "pass"
    one_bad = _suite(("t.py::a", 59, 59), ("t.py::b", 10, 30))
    failed = _one(slo, Evidence(tests=one_bad))
    assert failed.outcome == "fail"
    assert "t.py::b 10/30" in failed.detail
    few = _suite(("t.py::a", 3, 3), ("t.py::b", 59, 59))
    undecided = _one(slo, Evidence(tests=few))
    assert undecided.outcome == "insufficient"
    assert "1 shown to meet it, 0 shown to miss it, 1 not decided yet" in undecided.detail
    assert undecided.trials_needed == stats.trials_needed(0.9, 3, 3)


def test_test_slo_without_test_runs_is_insufficient() -> None:
    result = _one(GateSettings(test_slo=0.9), Evidence())
    assert result.outcome == "insufficient"
    assert result.detail == "no test runs measured"


def test_test_success_does_not_pass_while_a_test_below_the_threshold_is_undecided() -> None:
    # 0/3 is below 0.5 but its upper bound (0.7076) is not: not shown either way yet
    suite = _suite(*((f"t.py::ok{i}", 30, 30) for i in range(4)), ("t.py::broken", 0, 3))
    assert stats.decide(suite.passed, suite.n, 0.5) == "pass"  # the pool alone would pass
    result = _one(GateSettings(test_success=0.5), Evidence(tests=suite))
    assert result.outcome == "insufficient"
    assert "t.py::broken 0/3" in result.detail
    assert result.trials_needed == stats.trials_needed(0.5, 0, 3)


def test_a_gate_switched_off_in_the_config_is_listed_as_off_and_judges_nothing() -> None:
    settings = GateSettings(test_success=0.9, load_p95_ms="off")
    results = evaluate_gates(settings, Evidence(tests=SuiteEvidence(60, 60)))
    assert [(r.name, r.outcome) for r in results] == [
        ("test_success", "pass"),
        ("load_p95_ms", "off"),
    ]
    assert 'gates.load_p95_ms = "off"' in results[1].detail
    assert overall_outcome(results) == "pass"


def test_a_phase_that_did_not_run_takes_its_gates_off_with_it() -> None:
    settings = GateSettings(test_success=0.9, load_error_rate=0.01, chaos_recovery_s=30.0)
    off = {"load": "load.enabled = false from --set load.enabled=false"}
    results = evaluate_gates(settings, Evidence(tests=SuiteEvidence(60, 60)), phases_off=off)
    outcomes = {r.name: r.outcome for r in results}
    assert outcomes == {
        "test_success": "pass",
        "load_error_rate": "off",
        "chaos_recovery_s": "insufficient",  # on, and nothing measured: not off
    }
    (load,) = [r for r in results if r.name == "load_error_rate"]
    assert "the load phase did not run (load.enabled = false from --set" in load.detail


def test_when_every_gate_is_off_nothing_was_judged_and_it_is_no_pass() -> None:
    results = evaluate_gates(GateSettings(test_success="off"), Evidence())
    assert [r.outcome for r in results] == ["off"]
    assert overall_outcome(results) == "insufficient"


@pytest.mark.parametrize("value", ["none", "", 0])
def test_a_gate_is_dropped_only_by_the_word_off(value: object) -> None:
    with pytest.raises(pydantic.ValidationError, match="load_p95_ms"):
        GateSettings.model_validate({"load_p95_ms": value})


def test_the_chaos_gate_judges_each_experiment_by_the_one_limit_its_section_uses() -> None:
    # the gate allows 30 s, the experiment's own limit is 5 s: 8 s is late for it
    slow = ChaosEvidence("api-latency", True, (0.4, 8.0), limit_s=5.0)
    result = _one(GateSettings(chaos_recovery_s=30.0), Evidence(chaos=(slow,)))
    assert result.outcome == "fail"
    assert "api-latency 5 s" in result.detail
    assert "1/2 injections not recovered within their limit" in result.detail
    quick = ChaosEvidence("api-latency", True, (0.4, 0.6), limit_s=5.0)
    passed = _one(GateSettings(chaos_recovery_s=30.0), Evidence(chaos=(quick,)))
    assert passed.outcome == "pass"
    assert "not shown: that 95% of all recoveries would" in passed.detail


def test_a_failed_error_rate_gate_quotes_the_bound_it_was_decided_on() -> None:
    result = _one(GateSettings(load_error_rate=0.01), Evidence(load=_load(failures=500)))
    assert result.outcome == "fail"
    assert result.decided_by == "one-sided 95% lower bound"
    assert result.decided_on is not None
    assert f"lower bound {result.decided_on:.5f} is above <= 0.01" in result.detail
    assert "upper bound" not in result.detail


def _availability(total_s: float, down: list[tuple[float, float]], step: float = 1.0):  # noqa: ANN202
    from harness.availability import ProbePoint, analyse_probes

    points = [
        ProbePoint(i * step, not any(a <= i * step < b for a, b in down))
        for i in range(int(total_s / step))
    ]
    return analyse_probes(points, interval_s=step)


def test_the_availability_gate_passes_fails_and_says_the_hours_it_needs() -> None:
    clean_day = _availability(86_400.0, [])
    passed = _one(GateSettings(availability_min=0.99), Evidence(availability=clean_day))
    assert passed.outcome == "pass"
    assert passed.decided_by == "one-sided 95% lower bound"
    down_a_lot = _availability(600.0, [(10, 70), (100, 160), (200, 260), (300, 360)])
    failed = _one(GateSettings(availability_min=0.99), Evidence(availability=down_a_lot))
    assert failed.outcome == "fail"
    assert failed.decided_by == "one-sided 95% upper bound"
    short = _availability(600.0, [])
    undecided = _one(GateSettings(availability_min=0.99999), Evidence(availability=short))
    assert undecided.outcome == "insufficient"
    assert "more hours with no outage needed" in undecided.detail
    missing = _one(GateSettings(availability_min=0.99), Evidence())
    assert missing.detail == "no probe timeline measured"


def test_a_latency_gate_does_not_pass_on_requests_that_all_failed() -> None:
    all_failed = Evidence(load=_load(n=5000, failures=5000, p95=2.0))
    result = _one(GateSettings(load_p95_ms=10), all_failed)
    assert result.outcome == "insufficient"
    assert "every one of the 5000 requests failed" in result.detail
    some_failed = _one(GateSettings(load_p95_ms=10), Evidence(load=_load(failures=50)))
    assert "50 of them failed" in some_failed.detail


def test_no_gate_configured_judges_nothing_and_is_no_pass() -> None:
    assert overall_outcome(()) == "insufficient"
