"""Gates that name one request of the mix, and the abort-on-fail judgement (pure); the names
they give, checked against the load's requests before any traffic (harness.preflight)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import GateSettings, ResolvedConfig, load_config
from harness.errors import ConfigError
from harness.gates import Evidence, LoadEvidence, PercentileEstimate
from harness.preflight import check_request_gate_names
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


def test_a_request_the_load_never_sent_is_not_measured_and_names_what_was_sent() -> None:
    # a locustfile's names are known only once it ran: one it never sent is no evidence
    settings = _settings(requests=[{"name": "GET /nope", "p99_ms": 9.0}])
    (result,) = evaluate_all(settings, Evidence(load=_mix()))
    assert result.outcome == "insufficient"  # never a pass
    assert result.detail.startswith("not measured: no request named 'GET /nope' was sent")
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


# ------------------------------------------------ names checked before any traffic


def _config(tmp_path: Path, gates: str, load: str = "", *overrides: str) -> ResolvedConfig:
    (tmp_path / "reliability.toml").write_text(
        f"[profiles.smoke.load]\n{load}\n{gates}", encoding="utf-8"
    )
    return load_config(environ={}, cwd=tmp_path, overrides=overrides)


def test_a_request_gate_naming_no_request_of_the_load_path_is_refused_naming_file_and_field(
    tmp_path: Path,
) -> None:
    config = _config(
        tmp_path,
        '[[profiles.smoke.gates.requests]]\nname = "GET /api/v0/ping"\np95_ms = 9\n'
        '[[profiles.smoke.gates.requests]]\nname = "GET /nope"\np95_ms = 9\n',
    )
    with pytest.raises(ConfigError) as refused:
        check_request_gate_names(config)
    message = str(refused.value)
    assert message == (
        f"invalid request name 'GET /nope' from {tmp_path / 'reliability.toml'} "
        "[[profiles.smoke.gates.requests]] name (entry 2 of 2): must be one of "
        "'GET /api/v0/ping' (load.path '/api/v0/ping' from embedded defaults)"
    )


def test_a_request_gate_is_checked_against_the_load_files_names_labels_included(
    tmp_path: Path,
) -> None:
    load_file = tmp_path / "mix.toml"
    load_file.write_text(
        '[[requests]]\npath = "/items"\n'
        '[[requests]]\nmethod = "POST"\npath = "/items"\nname = "create item"\n'
        "expect_status = [201]\n",
        encoding="utf-8",
    )
    ok = '[[profiles.smoke.gates.requests]]\nname = "create item"\nerror_rate = 0.01\n'
    check_request_gate_names(_config(tmp_path, ok, 'load_file = "mix.toml"'))
    bad = _config(
        tmp_path,
        ok,
        'load_file = "mix.toml"',
        'gates.requests=[{name = "POST /items", p95_ms = 5}]',
    )
    with pytest.raises(ConfigError) as refused:
        check_request_gate_names(bad)
    message = str(refused.value)
    assert message.startswith("invalid request name 'POST /items' from --set gates.requests=")
    assert "([[gates.requests]] name, entry 1 of 1): must be one of" in message
    assert (
        f"must be one of 'GET /items', 'create item' (the requests of the load file {load_file})"
        in message
    )


def test_a_locustfiles_request_names_are_not_checked_before_it_runs(tmp_path: Path) -> None:
    gates = '[[profiles.smoke.gates.requests]]\nname = "GET /whatever"\np95_ms = 9\n'
    config = _config(tmp_path, gates, 'locustfile = "mine.py"')
    check_request_gate_names(config)  # known only once it runs
