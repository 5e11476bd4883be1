"""The production-readiness checklist: every row judged, never 'ready' over a failed or
unmeasured row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checklist import ROWS, Checklist, Row, evaluate_checklist
from harness.config import ReadinessSettings, load_config
from harness.errors import ConfigError
from harness.gates import ChaosEvidence, Evidence, LoadEvidence, PercentileEstimate, SuiteEvidence


def _load(n: int, failures: int = 0, p95: float = 2.0, rps: float = 5000.0) -> LoadEvidence:
    est = PercentileEstimate(0.95, n, p95, p95 * 0.9, p95 * 1.1)
    return LoadEvidence(n, failures, rps, est, est, intended_rps=0.0)


def _rows(checklist: Checklist) -> dict[str, Row]:
    return {r.key: r for r in checklist.rows}


def test_every_row_of_the_users_checklist_is_there_in_order() -> None:
    assert [s.key for s in ROWS] == [
        "uptime", "error_rate", "p95_ms", "recovery_s", "throughput_rps", "memory_mb", "cpu",
        "test_success", "coverage", "regression", "security",
    ]  # fmt: skip


def test_rows_the_harness_does_not_measure_read_not_measured_with_why() -> None:
    evidence = Evidence(
        tests=SuiteEvidence(3000, 3000),
        load=_load(600_000),
        chaos=(ChaosEvidence("api-latency", True, (0.4,) * 60, limit_s=10.0),),
    )
    checklist = evaluate_checklist(ReadinessSettings(), evidence)
    rows = _rows(checklist)
    for key in ("uptime", "memory_mb", "cpu", "coverage", "regression", "security"):
        assert rows[key].outcome == "not measured", key
        assert rows[key].measured.startswith("not measured: ")
    for key in ("error_rate", "p95_ms", "recovery_s", "throughput_rps", "test_success"):
        assert rows[key].outcome == "pass", (key, rows[key].measured)
    assert checklist.verdict == "not shown yet"
    assert checklist.score == pytest.approx(5 / 11)


def test_one_failed_row_makes_the_service_not_ready() -> None:
    evidence = Evidence(tests=SuiteEvidence(3000, 3000), load=_load(100_000, p95=40.0))
    checklist = evaluate_checklist(ReadinessSettings(), evidence)
    assert _rows(checklist)["p95_ms"].outcome == "fail"
    assert checklist.verdict == "not ready"


def test_an_undecided_row_says_what_it_would_take() -> None:
    # 0 failures in 5,000 requests cannot show an error rate below 0.001%
    checklist = evaluate_checklist(ReadinessSettings(), Evidence(load=_load(5000)))
    row = _rows(checklist)["error_rate"]
    assert row.outcome == "insufficient"
    assert row.needs.endswith("more clean requests")
    assert "the requests of this run's load phase" in row.claim


def test_a_load_that_asked_for_less_than_the_target_rate_does_not_fail_throughput() -> None:
    est = PercentileEstimate(0.95, 5000, 2.0, 1.8, 2.2)
    paced = Evidence(load=LoadEvidence(5000, 0, 500.0, est, est, intended_rps=500.0))
    row = _rows(evaluate_checklist(ReadinessSettings(), paced))["throughput_rps"]
    assert row.outcome == "not measured"
    assert "asked for only 500 req/s" in row.measured


def test_a_phase_switched_off_and_a_row_switched_off_are_not_measured() -> None:
    settings = ReadinessSettings(p95_ms="off")
    checklist = evaluate_checklist(
        settings, Evidence(tests=SuiteEvidence(10, 10)), phases_off={"chaos": "chaos.enabled"}
    )
    rows = _rows(checklist)
    assert rows["p95_ms"].measured == "not measured: switched off in the profile"
    assert rows["recovery_s"].measured == "not measured: the chaos phase did not run"


def test_weights_name_rows_and_an_unknown_row_is_refused() -> None:
    config = load_config(overrides=["readiness.weights={ test_success = 3 }"], environ={})
    assert config.profile.readiness.weight("test_success") == 3
    with pytest.raises(ConfigError, match="unknown row.*uptme"):
        load_config(overrides=["readiness.weights={ uptme = 2 }"], environ={})


_OUTCOMES = st.sampled_from(["pass", "fail", "insufficient", "not measured"])


@given(st.lists(_OUTCOMES, min_size=1, max_size=11))
def test_the_verdict_is_ready_only_when_every_row_passed(outcomes: list[str]) -> None:
    rows = tuple(
        Row(f"r{i}", f"row {i}", "-", o, "", "", "", 1.0)  # type: ignore[arg-type]
        for i, o in enumerate(outcomes)
    )
    checklist = Checklist(rows)
    if "fail" in outcomes:
        assert checklist.verdict == "not ready"
    elif all(o == "pass" for o in outcomes):
        assert checklist.verdict == "ready"
        assert checklist.score == 1.0
    else:
        assert checklist.verdict == "not shown yet"
        assert checklist.score < 1.0


@given(
    st.integers(0, 200), st.integers(1, 200), st.integers(0, 50), st.integers(1, 100_000),
    st.floats(0.1, 100.0),
)  # fmt: skip
def test_evaluated_checklists_never_say_ready_over_an_unmeasured_row(
    passed: int, n: int, failures: int, requests: int, p95: float
) -> None:
    evidence = Evidence(
        tests=SuiteEvidence(min(passed, n), n),
        load=_load(requests, min(failures, requests), p95),
    )
    checklist = evaluate_checklist(ReadinessSettings(), evidence)
    assert checklist.verdict != "ready"  # memory, CPU, coverage, ... are not measured
    if any(r.outcome == "fail" for r in checklist.rows):
        assert checklist.verdict == "not ready"
