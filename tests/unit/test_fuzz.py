"""API fuzzing results, pure: schemathesis's NDJSON events read into counts, failures with
their reproduction, untested operations, and the two gates."""

from __future__ import annotations

import base64
import json

import pytest

from harness.fuzz import fuzz_gate, read_events


def _scenario(label: str, cases: dict[str, list[tuple[str, str]]], body: str = "") -> str:
    """One ScenarioFinished event: ``cases`` maps a case id to its (check, status) pairs."""
    checks = {
        cid: [
            {"name": name, "status": status}
            | ({"failure_info": {"failure": {"code": "ST1", "title": f"{name} broke",
                                              "message": "why"}}} if status == "failure" else {})
            for name, status in pairs
        ]
        for cid, pairs in cases.items()
    }  # fmt: skip
    request = {
        "method": label.split()[0], "uri": "http://127.0.0.1:9" + label.split()[1],
        "headers": {"Authorization": ["[Filtered]"], "Content-Type": ["application/json"]},
        "body": {"$base64": base64.b64encode(body.encode()).decode()} if body else None,
    }  # fmt: skip
    recorder = {
        "label": label,
        "cases": {cid: {} for cid in cases},
        "checks": checks,
        "interactions": {cid: {"request": request} for cid in cases},
    }
    return json.dumps({"ScenarioFinished": {"status": "success", "recorder": recorder}})


_INIT = json.dumps({"Initialize": {"schemathesis_version": "4.1.0", "seed": 7}})
_DONE = json.dumps({"EngineFinished": {"stop_reason": "completed"}})


def test_cases_server_errors_and_violations_are_counted_per_case() -> None:
    lines = [
        _INIT,
        _scenario(
            "POST /jobs",
            {
                "a": [("not_a_server_error", "failure"), ("status_code_conformance", "failure")],
                "b": [("not_a_server_error", "success"), ("negative_data_rejection", "failure")],
                "c": [("not_a_server_error", "success")],
            },
            body='{"command": [""]}',
        ),  # fmt: skip
        _scenario("GET /health", {"d": [("not_a_server_error", "success")]}),
        _DONE,
    ]
    outcome = read_events(lines, "Authorization: Bearer $MOONBASE_API_TOKEN")
    assert (outcome.tool, outcome.seed, outcome.stop_reason) == (
        "schemathesis 4.1.0",
        7,
        "completed",
    )
    assert (outcome.cases, outcome.server_errors, outcome.violations) == (4, 1, 2)
    assert outcome.operations["POST /jobs"]["failing"] == {
        "negative_data_rejection": 1, "not_a_server_error": 1, "status_code_conformance": 1,
    }  # fmt: skip
    first = outcome.failures[0]  # server errors first
    assert (first.check, first.operation, first.path) == (
        "not_a_server_error",
        "POST /jobs",
        "/jobs",
    )
    assert first.body == '{"command": [""]}'
    assert '-H "Authorization: Bearer $MOONBASE_API_TOKEN"' in first.curl  # the shell fills it
    assert first.curl.endswith("http://127.0.0.1:9/jobs")
    assert """--data-binary '{"command": [""]}'""" in first.curl


def test_an_operation_with_an_error_is_untested_and_no_case_is_no_result() -> None:
    value = {"message": "Path parameter 'id' is not defined"}
    error = json.dumps({"NonFatalError": {"label": "GET /x/{id}", "value": value}})
    outcome = read_events(
        [_INIT, _scenario("GET /y", {"a": [("not_a_server_error", "success")]}), error, _DONE]
    )
    assert outcome.untested == {"GET /x/{id}": "Path parameter 'id' is not defined"}
    gate = fuzz_gate("api_server_errors_max", outcome, 0)
    assert gate.outcome == "insufficient"
    assert "1 operations untested" in gate.detail
    empty = read_events([_INIT, "{not json", _DONE])  # a line cut short is skipped
    assert empty.why_none == "schemathesis generated no case"
    assert fuzz_gate("api_contract_violations_max", empty, 0).outcome == "insufficient"
    with pytest.raises(ValueError, match="no schemathesis run"):
        read_events(['{"Other": {}}'])


def test_the_gates_allow_a_count_and_state_the_rate_bound() -> None:
    both = [("not_a_server_error", "success"), ("status_code_conformance", "success")]
    clean_cases = {str(i): both for i in range(299)}
    lines = [_INIT, _scenario("GET /y", clean_cases)]
    lines += [_scenario("GET /z", {"bad": [("not_a_server_error", "failure")]}), _DONE]
    outcome = read_events(lines)
    fail = fuzz_gate("api_server_errors_max", outcome, 0)
    assert (fail.outcome, fail.observed, fail.n) == ("fail", 1.0, 300)
    assert "1/300 generated cases with server errors" in fail.detail
    assert "GET /z not_a_server_error broke" in fail.detail
    assert fuzz_gate("api_server_errors_max", outcome, 1).outcome == "pass"
    clean = fuzz_gate("api_contract_violations_max", outcome, 0)
    assert clean.outcome == "pass"
    assert "0/300 generated cases with contract violations" in clean.detail
    assert "bound on the share of such cases: 0.0099" in clean.detail
    assert fuzz_gate("api_server_errors_max", None, 0).outcome == "insufficient"


def test_a_run_cut_short_an_excluded_check_and_an_operation_with_no_case_decide_nothing() -> None:
    ok = _scenario(
        "GET /y", {"a": [("not_a_server_error", "success"), ("status_code_conformance", "success")]}
    )
    cut = read_events([_INIT, ok])  # no EngineFinished: stopped at fuzz.timeout_s
    assert fuzz_gate("api_server_errors_max", cut, 0).outcome == "insufficient"
    assert "did not finish" in fuzz_gate("api_server_errors_max", cut, 0).detail
    excluded = read_events(
        [_INIT, _scenario("GET /y", {"a": [("status_code_conformance", "success")]}), _DONE]
    )
    gate = fuzz_gate("api_server_errors_max", excluded, 0)
    assert gate.outcome == "insufficient"
    assert "no check that finds server errors ran" in gate.detail
    assert fuzz_gate("api_contract_violations_max", excluded, 0).outcome == "pass"
    empty_op = json.dumps({"ScenarioFinished": {"recorder": {"label": "GET /z", "cases": {}}}})
    lonely = json.dumps({"NonFatalError": {"value": {"message": "connection refused"}}})
    outcome = read_events([_INIT, ok, empty_op, lonely, _DONE])
    assert outcome.untested == {
        "GET /z": "no case was generated",
        "(the run)": "connection refused",
    }
    assert fuzz_gate("api_contract_violations_max", outcome, 0).outcome == "insufficient"


def test_a_curl_line_keeps_the_whole_body_up_to_its_cap_and_says_when_cut() -> None:
    long = '{"x": "' + "y" * 70000 + '"}'
    outcome = read_events(
        [_INIT, _scenario("POST /big", {"a": [("not_a_server_error", "failure")]}, long), _DONE]
    )
    (failure,) = outcome.failures
    assert failure.curl.startswith("# the body is cut at 65536 characters of 70009: curl -X POST")
    assert len(failure.body) < 2100
