"""API coverage, pure: the document's operations, traffic matched to them, the gate."""

from __future__ import annotations

import pytest

from harness.api_coverage import api_coverage_gate, measure_api_coverage, operations_of

_DOC = {
    "openapi": "3.1.0",
    "servers": [{"url": "http://127.0.0.1:9/v2"}],
    "paths": {
        "/pods": {"get": {"responses": {"200": {}}}, "post": {"responses": {"201": {}, "4XX": {}}}},
        "/pods/{pod_id}": {
            "get": {"responses": {"200": {}, "404": {}, "default": {}}},
            "parameters": [{"name": "pod_id", "in": "path"}],
        },
        "/pods/active": {"get": {"responses": {"200": {}}}},
    },
}


def test_every_operation_is_read_with_the_servers_base_path() -> None:
    ops = {op.name: op.responses for op in operations_of(_DOC)}
    assert ops == {
        "GET /v2/pods": ("200",),
        "POST /v2/pods": ("201", "4XX"),
        "GET /v2/pods/{pod_id}": ("200", "404", "default"),
        "GET /v2/pods/active": ("200",),
    }


def test_swagger_2_base_path_is_read() -> None:
    doc = {"swagger": "2.0", "basePath": "/api/", "paths": {"/x": {"get": {"responses": {}}}}}
    assert [op.name for op in operations_of(doc)] == ["GET /api/x"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"openapi": "3.0.0"}, "no 'paths' object"), ({"paths": {"/x": {}}}, "hold no operation")],
)
def test_a_document_without_operations_says_what_is_wrong(doc: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        operations_of(doc)


def _by_name(traffic: list[tuple[str, str, int, bool]]) -> dict[str, object]:
    coverage = measure_api_coverage(operations_of(_DOC), traffic, "test")
    return {o.operation.name: o for o in coverage.operations} | {"_": coverage}


def test_a_literal_segment_wins_over_a_parameter_and_statuses_fall_under_their_response() -> None:
    ops = _by_name(
        [
            ("GET", "/v2/pods/active", 200, False),
            ("get", "/v2/pods/abc", 404, False),
            ("GET", "/v2/pods/abc/", 500, False),  # a trailing slash fits; a 5xx is no default
            ("GET", "/v2/pods/xyz", 409, False),  # under default
            ("POST", "/v2/pods", 422, False),  # under 4XX
            ("POST", "/v2/pods", 503, False),  # documented nowhere for POST
            ("DELETE", "/v2/pods/abc", 204, False),  # no such operation
            ("GET", "/v2/pods", 200, True),  # the hop answered: not the target's
        ]
    )
    assert ops["GET /v2/pods/active"].requests == 1
    one = ops["GET /v2/pods/{pod_id}"]
    assert (one.requests, one.exercised, one.undocumented) == (3, ("404", "default"), (500,))
    post = ops["POST /v2/pods"]
    assert (post.exercised, post.undocumented) == (("4XX",), (503,))
    assert ops["GET /v2/pods"].requests == 0
    coverage = ops["_"]
    assert coverage.unmatched == {"DELETE /v2/pods/abc": 1}
    assert (coverage.requests, coverage.hop_errors) == (7, 1)
    assert coverage.operations_exercised == (3, 4)
    assert coverage.responses_exercised == (4, 7)
    body = coverage.to_json()
    missed = {f"{o['method']} {o['path']}": o["missed"] for o in body["by_operation"]}
    assert missed["POST /v2/pods"] == ["201"]
    assert body["operations"] == {"covered": 3, "total": 4, "percent": 75.0}


def test_the_gate_counts_operations_or_responses_and_names_the_missed_ones() -> None:
    coverage = measure_api_coverage(operations_of(_DOC), [("GET", "/v2/pods", 200, False)], "t")
    fail = api_coverage_gate(coverage, 50.0, "operations")
    assert (fail.outcome, fail.observed) == ("fail", 25.0)
    assert "1/4 operations exercised" in fail.detail
    assert "never exercised: POST /v2/pods" in fail.detail
    passed = api_coverage_gate(coverage, 10.0, "responses")
    assert (passed.outcome, passed.observed) == ("pass", pytest.approx(100 / 7))
    none = api_coverage_gate(None, 10.0, "operations", "no OpenAPI document: 404")
    assert none.outcome == "insufficient"
    assert "no OpenAPI document: 404" in none.detail


def test_an_operation_answered_only_with_undocumented_statuses_is_reached_not_exercised() -> None:
    ops = _by_name([("GET", "/v2/pods", 503, False), ("GET", "/v2/pods", 502, False)])
    pods = ops["GET /v2/pods"]
    assert (pods.requests, pods.exercised, pods.undocumented) == (2, (), (502, 503))
    coverage = ops["_"]
    assert coverage.operations_exercised == (0, 4)
    gate = api_coverage_gate(coverage, 10.0, "operations")
    assert gate.outcome == "fail"
    assert "never exercised: GET /v2/pods" in gate.detail


def test_paths_are_split_before_they_are_decoded_and_literals_win_by_position() -> None:
    doc = {
        "openapi": "3.0.0",
        "paths": {
            "/files/{name}": {"get": {"responses": {"200": {}}}},
            "/{kind}/latest": {"get": {"responses": {"200": {}}}},
            "/files/{name}/raw": {"get": {"responses": {"200": {}}}},
            "/reports/{id}.json": {"get": {"responses": {"200": {}}}},
        },
    }
    coverage = measure_api_coverage(
        operations_of(doc),
        [
            ("GET", "/files/a%2Fb", 200, False),  # one segment: "a/b"
            ("GET", "/files/latest", 200, False),  # literal first segment wins
            ("GET", "/files/a%2Fb/raw?x=1", 200, False),
            ("GET", "/reports/7.json", 200, False),
            ("GET", "/reports/7.xml", 200, False),  # no such operation
        ],
        "t",
    )
    seen = {o.operation.path: o.requests for o in coverage.operations}
    assert seen == {
        "/files/{name}": 2,
        "/{kind}/latest": 0,
        "/files/{name}/raw": 1,
        "/reports/{id}.json": 1,
    }
    assert coverage.unmatched == {"GET /reports/7.xml": 1}


def test_head_fits_get_server_variables_are_filled_and_local_path_refs_followed() -> None:
    doc = {
        "openapi": "3.1.0",
        "servers": [
            {"url": "{scheme}://api.test/{base}", "variables": {"base": {"default": "v3"}}}
        ],
        "paths": {
            "/items": {"$ref": "#/components/pathItems/Items"},
            "/other": {"$ref": "other.yaml#/Other"},  # another file: not followed
        },
        "components": {"pathItems": {"Items": {"get": {"responses": {"200": {}}}}}},
    }
    ops = operations_of(doc)
    assert [op.name for op in ops] == ["GET /v3/items"]
    coverage = measure_api_coverage(ops, [("HEAD", "/v3/items", 200, False)], "t")
    assert coverage.operations_exercised == (1, 1)


def test_a_count_the_hop_broke_off_is_not_enough_evidence() -> None:
    from dataclasses import replace

    coverage = measure_api_coverage(operations_of(_DOC), [("GET", "/v2/pods", 200, False)], "t")
    broken = replace(coverage, broken="the recording hop ended by itself (exit -9)")
    gate = api_coverage_gate(broken, 10.0, "operations")
    assert gate.outcome == "insufficient"
    assert "exit -9" in gate.detail
    assert broken.to_json()["broken"].startswith("the recording hop")


@pytest.mark.parametrize("field", ["api_coverage_min", "coverage_min"])
def test_a_coverage_threshold_written_as_a_fraction_is_refused(field: str) -> None:
    from pydantic import ValidationError

    from harness.config import GateSettings

    with pytest.raises(ValidationError, match="0.9 reads as 0.9%, write 90"):
        GateSettings(**{field: 0.9})
    assert getattr(GateSettings(**{field: 90}), field) == 90
