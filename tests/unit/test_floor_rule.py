"""The generator's floor: the 2x rule, what a latency gate does over a percentile at the
floor, and the floor beside the target's percentiles in summary.md and index.html."""

from __future__ import annotations

from typing import Any

import pytest

from harness.config import GateSettings
from harness.floor import AT_FLOOR, GeneratorFloor, at_floor, floor_verdict
from harness.gates import Evidence, LoadEvidence, PercentileEstimate, evaluate_gates
from harness.load.null_server import NullProtocol, response_for
from harness.report.html import render_html
from harness.report.writers import render_markdown


def _floor(p50: float = 0.5, p95: float = 1.0, p99: float = 2.0, n: int = 2000) -> GeneratorFloor:
    def est(q: float, ms: float) -> PercentileEstimate:
        return PercentileEstimate(q, n, ms, ms * 0.9, ms * 1.1)

    return GeneratorFloor(
        percentiles={"p50": est(0.5, p50), "p95": est(0.95, p95), "p99": est(0.99, p99)},
        requests=n, failures=0, duration_s=2.0, rps=1000.0, intended_rate_rps=1000.0,
        users=10, processes=1, model="open", server="null server (uvloop) on 127.0.0.1:1",
        max_ms=4.0,
    )  # fmt: skip


def test_a_percentile_at_most_twice_the_floor_is_flagged_and_one_above_is_not() -> None:
    assert at_floor(2.0, 1.0)  # exactly 2x: within
    assert at_floor(0.5, 1.0)  # below the floor (noise): within
    assert not at_floor(2.001, 1.0)
    assert not at_floor(5.0, 0.0)  # no floor measured: no flag


def test_flags_compare_each_percentile_with_the_floors_own() -> None:
    floor = _floor(p50=0.5, p95=1.0, p99=2.0)
    assert floor.flags({"p50": 0.9, "p95": 3.0, "p99": 4.0, "max": 99.0}) == {
        "p50": True,
        "p95": False,
        "p99": True,
    }


def _gate(threshold: float, p95: float, floor: GeneratorFloor | None):  # noqa: ANN202
    n = 5000
    est = PercentileEstimate(0.95, n, p95, p95 * 0.95, p95 * 1.05)
    ev = LoadEvidence(n, 0, 1000.0, est, PercentileEstimate(0.99, n, p95, None, None), floor=floor)
    (result,) = evaluate_gates(GateSettings(load_p95_ms=threshold), Evidence(load=ev))
    return result


def test_a_fail_over_a_percentile_at_the_floor_is_insufficient_not_a_fail() -> None:
    result = _gate(threshold=0.001, p95=1.5, floor=_floor(p95=1.0))
    assert result.outcome == "insufficient"
    assert AT_FLOOR in result.detail
    assert "no evidence against the target" in result.detail


def test_a_pass_over_a_percentile_at_the_floor_stands_and_says_so() -> None:
    result = _gate(threshold=10.0, p95=1.5, floor=_floor(p95=1.0))
    assert result.outcome == "pass"
    assert AT_FLOOR in result.detail
    assert "the pass stands" in result.detail


def test_a_percentile_clear_of_the_floor_is_judged_as_before() -> None:
    clear = _gate(threshold=0.001, p95=50.0, floor=_floor(p95=1.0))
    assert clear.outcome == "fail"
    assert AT_FLOOR not in clear.detail
    assert _gate(threshold=0.001, p95=1.5, floor=None).outcome == "fail"


def test_floor_verdict_leaves_an_insufficient_outcome_alone() -> None:
    outcome, note = floor_verdict("p95", "insufficient", 1.0, _floor(p95=1.0))
    assert outcome == "insufficient"
    assert AT_FLOOR in note


def _report(floor: dict[str, Any], load: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "moonbase-reliability/1",
        "run_id": "r1",
        "status": "completed",
        "verdict": "pass",
        "exit_code": 0,
        "gates": [],
    }
    if load:
        body["load"] = {
            "requests": 5000, "failures": 0, "rps": 1000.0, "model": "open",
            "latency_ms": {"p50": 0.8, "p95": 5.0, "p99": 7.5, "max": 9.0},
            "floor": floor,
        }  # fmt: skip
    else:
        body["floor"] = floor
    return body


def _floor_json(latency_ms: dict[str, float]) -> dict[str, Any]:
    floor = _floor()
    return floor.to_json() | {"at_floor": floor.flags(latency_ms)}


def test_summary_shows_the_floor_beside_the_target_and_flags_only_what_is_at_it() -> None:
    latency = {"p50": 0.8, "p95": 5.0, "p99": 7.5}
    markdown = render_markdown(_report(_floor_json(latency)))
    assert "### The generator's floor" in markdown
    assert f"| p50 | 0.8 | 0.5 [0.45, 0.55] | {AT_FLOOR} |" in markdown
    assert "| p95 | 5 | 1 [0.9, 1.1] | clear of the floor |" in markdown
    assert "| p99 | 7.5 | 2 [1.8, 2.2] | clear of the floor |" in markdown
    assert f"**p50: {AT_FLOOR}.**" in markdown


def test_a_calibration_alone_shows_the_floor_without_a_target_column() -> None:
    floor = _floor().to_json()
    markdown = render_markdown(_report(floor, load=False))
    assert "| p99 | - | 2 [1.8, 2.2] | - |" in markdown
    assert AT_FLOOR not in markdown.split("### The generator's floor")[1].split("\n\n")[2]


def test_the_html_page_has_the_floor_table_and_the_flag() -> None:
    html = render_html(_report(_floor_json({"p50": 0.8, "p95": 5.0, "p99": 7.5})))
    assert 'id="floor-table"' in html
    assert "floor: not a property of the target" in html  # the apostrophe is escaped
    assert "0.5 [0.45, 0.55]" in html


class _Transport:
    """Records what the protocol writes (a recording fake, not a mock)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


@pytest.mark.parametrize(
    ("chunks", "answers"),
    [
        ([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], 1),
        ([b"GET / HTTP/1.1\r\n", b"Host: x\r\n\r\n"], 1),  # a head split over two reads
        ([b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", b"cd"], 1),  # body arrives late
        ([b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"], 0),  # not before the whole body
        ([b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"], 2),  # pipelined
        ([b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"], 1),
    ],
)
def test_the_null_server_answers_each_request_once_its_last_byte_is_in(
    chunks: list[bytes], answers: int
) -> None:
    protocol = NullProtocol()
    transport = _Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for chunk in chunks:
        protocol.data_received(chunk)
    assert b"".join(transport.written) == response_for(False) * answers
    assert protocol.buffer == bytearray() or answers == 0


def test_the_null_server_answers_head_without_a_body() -> None:
    protocol = NullProtocol()
    transport = _Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(b"HEAD / HTTP/1.1\r\n\r\n")
    assert transport.written == [response_for(True)]
    assert response_for(True).endswith(b"\r\n\r\n")


def test_a_worker_that_died_during_the_floor_is_said_in_every_report() -> None:
    import dataclasses

    whole = dataclasses.replace(_floor(), processes=2, workers_expected=2)
    assert whole.to_json()["workers"] == {"expected": 2, "finished": 2}
    assert whole.workers_note == ""
    assert "workers finished" not in render_markdown(_report(whole.to_json()))
    short = dataclasses.replace(_floor(), processes=1, workers_expected=2)
    assert short.to_json()["workers"] == {"expected": 2, "finished": 1}
    assert short.workers_note == ", 1 of 2 workers finished"
    said = "10 users, 2 worker processes, 1 of 2 finished) against null server"
    assert said in render_markdown(_report(short.to_json()))
    assert said in render_html(_report(short.to_json()))
    assert "workers" not in _floor().to_json()  # one process: nothing to say
