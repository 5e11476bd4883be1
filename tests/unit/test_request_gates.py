"""Gates that name one request of the mix, and the abort-on-fail judgement (pure)."""

from __future__ import annotations

import pytest

from harness.config import GateSettings
from harness.gates import Evidence, LoadEvidence, PercentileEstimate
from harness.request_gates import abort_reason, evaluate_all, request_gate_results


def _load(n: int, failures: int = 0, p95: float = 2.0) -> LoadEvidence:
    est = PercentileEstimate(0.95, n, p95, p95 * 0.9, p95 * 1.1)
    return LoadEvidence(n, failures, 500.0, est, PercentileEstimate(0.99, n, p95 * 2, None, None))


def _mix() -> LoadEvidence:
    fast, slow = _load(4000, p95=2.0), _load(1000, failures=40, p95=80.0)
    total = _load(5000, failures=40, p95=10.0)
    return LoadEvidence(
        total.requests, total.failures, total.rps, total.p95, total.p99,
        by_request=(("GET /ping", fast), ("POST /pods", slow)),
    )  # fmt: skip


def _settings(**gates: object) -> GateSettings:
    return GateSettings.model_validate(gates)


def test_a_p95_gate_for_one_request_judges_its_own_histogram_not_the_mix() -> None:
    settings = _settings(
        load_p95_ms=50.0,
        requests=[{"name": "POST /pods", "p95_ms": 50.0}, {"name": "GET /ping", "p95_ms": 5.0}],
    )
    results = {r.name: r for r in evaluate_all(settings, Evidence(load=_mix()))}
    assert results["load_p95_ms"].outcome == "pass"  # the mix's 10 ms hides the slow one
    slow = results["load_p95_ms[POST /pods]"]
    assert slow.outcome == "fail"
    assert slow.decided_on == pytest.approx(72.0)  # its own lower bound: 80 x 0.9
    assert slow.n == 1000
    assert results["load_p95_ms[GET /ping]"].outcome == "pass"


def test_a_request_error_rate_gate_counts_that_requests_failures_only() -> None:
    settings = _settings(requests=[{"name": "POST /pods", "error_rate": 0.01}])
    (result,) = evaluate_all(settings, Evidence(load=_mix()))
    assert result.name == "load_error_rate[POST /pods]"
    assert result.outcome == "fail"  # 40/1000, lower bound well above 0.01
    assert result.observed == pytest.approx(0.04)


def test_a_request_the_load_never_sent_is_insufficient_and_names_what_was_sent() -> None:
    settings = _settings(requests=[{"name": "GET /nope", "p99_ms": 9.0}])
    (result,) = evaluate_all(settings, Evidence(load=_mix()))
    assert result.outcome == "insufficient"
    assert "no request named 'GET /nope' was sent" in result.detail
    assert "GET /ping, POST /pods" in result.detail


def test_request_gates_are_off_when_the_load_did_not_run() -> None:
    settings = _settings(requests=[{"name": "GET /ping", "p95_ms": 9.0}])
    (result,) = evaluate_all(settings, Evidence(), {"load": "load.enabled = false"})
    assert result.outcome == "off"


def test_a_request_gate_needs_a_threshold() -> None:
    with pytest.raises(ValueError, match="at least one of error_rate, p95_ms, p99_ms"):
        _settings(requests=[{"name": "GET /ping"}])


def test_abort_on_fail_names_only_the_load_gates() -> None:
    with pytest.raises(ValueError, match="load_error_rate"):
        _settings(abort_on_fail=["test_success"])


def test_abort_fires_on_a_marked_gate_that_already_fails_and_never_on_insufficient() -> None:
    settings = _settings(load_p95_ms=5.0, abort_on_fail=["load_p95_ms"])
    result = abort_reason(settings, _load(5000, p95=10.0))
    assert result is not None
    assert result.name == "load_p95_ms"
    assert result.outcome == "fail"
    # 40 samples: too few for a p95 gate (59), so not yet a reason to stop
    assert abort_reason(settings, _load(40, p95=10.0)) is None
    # unmarked, the same failing gate never stops the load
    assert abort_reason(_settings(load_p95_ms=5.0), _load(5000, p95=10.0)) is None


def test_a_marked_request_gate_aborts_on_its_own_evidence() -> None:
    rules = [{"name": "POST /pods", "p95_ms": 50.0, "abort_on_fail": True}]
    result = abort_reason(_settings(requests=rules), _mix())
    assert result is not None
    assert result.name == "load_p95_ms[POST /pods]"
    unmarked = [{"name": "POST /pods", "p95_ms": 50.0}]
    assert abort_reason(_settings(requests=unmarked), _mix()) is None
    assert request_gate_results(_settings(requests=unmarked).requests, None)[0].outcome == (
        "insufficient"
    )
