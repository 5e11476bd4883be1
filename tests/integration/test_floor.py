"""The generator's floor, through the CLI as a user runs it: measured before a real short
load against the reference API and shown in every report; the 2x flag fires against a
target that is itself a null server, and not against one with a known added delay."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cli_helpers import run_cli
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.floor import AT_FLOOR
from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADDED_DELAY_S = 0.2


def _report(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "latest" / "report.json").read_text())  # type: ignore[no-any-return]


def test_the_floor_is_in_report_json_and_summary_md_of_a_short_load_on_the_reference_api(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "load", "--duration", "2", "--rate", "300", "--report-dir", str(tmp_path),
        "--set", "load.floor_duration_s=1",
    )  # fmt: skip
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr
    report = _report(tmp_path)
    floor = report["load"]["floor"]
    # 1 s at 300 req/s against the null server, every request answered
    assert floor["requests"] == 300
    assert floor["failures"] == 0
    assert floor["intended_rate_rps"] == 300
    assert floor["users"] == report["load"]["users"]
    assert floor["server"].startswith("null server")
    for name in ("p50", "p95", "p99"):
        bounds = floor["percentile_bounds_ms"][name]
        assert bounds["n"] == 300
        assert 0 < bounds["estimate"] == floor["latency_ms"][name]
        assert bounds["low"] <= bounds["estimate"] <= bounds["high"]
        target = report["load"]["latency_ms"][name]
        assert floor["at_floor"][name] is (target <= 2 * bounds["estimate"])
    assert "floor" in [s["name"] for s in report["timeline"]["spans"]]
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "### The generator's floor" in summary
    assert f"| p99 | {_sig(report['load']['latency_ms']['p99'])} |" in summary
    assert 'id="floor-table"' in (tmp_path / "latest" / "index.html").read_text()
    assert "generator's floor (300 requests, 0 failed" in result.stdout + result.stderr


def _sig(value: float) -> str:
    from harness.report.views import significant

    return significant(value)


def test_the_flag_fires_when_the_target_is_as_fast_as_the_null_server(
    tmp_path: Path, null_target: str
) -> None:
    result = run_cli(
        "load", "--target-url", null_target, "--set", "load.path=/api/v0/ping",
        "--duration", "2", "--rate", "200",
        "--report-dir", str(tmp_path), "--set", "load.floor_duration_s=2",
        "--set", "gates.load_p95_ms=0.001",
    )  # fmt: skip
    report = _report(tmp_path)
    flags = report["load"]["floor"]["at_floor"]
    # the same client against the same kind of server: the medians are the same quantity
    assert flags["p50"] is True, report["load"]["floor"]
    said = result.stdout + result.stderr
    assert f"p50 {report['load']['latency_ms']['p50']:.3f} ms is within 2x" in said
    assert AT_FLOOR in (tmp_path / "latest" / "summary.md").read_text()
    gate = next(g for g in report["gates"] if g["name"] == "load_p95_ms")
    # 1 microsecond cannot be shown by any client: at the floor that is no fail of the target
    assert gate["outcome"] == ("insufficient" if flags["p95"] else "fail"), gate
    assert result.returncode == (3 if flags["p95"] else 1), result.stdout + result.stderr


@pytest.fixture
def slow_target() -> Iterator[str]:
    async def ping(request: Request) -> Response:
        await asyncio.sleep(ADDED_DELAY_S)
        return JSONResponse({"status": "ok"})

    config = uvicorn.Config(
        Starlette(routes=[Route("/api/v0/ping", ping)]), host="127.0.0.1", port=0,
        log_level="warning", access_log=False, lifespan="off", ws="none",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="slow-target", daemon=True)
    thread.start()
    poll_until("uvicorn started", lambda: server.started, 10, interval_s=0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_flag_stays_off_for_a_target_with_a_known_added_delay(
    tmp_path: Path, slow_target: str
) -> None:
    result = run_cli(
        "load", "--target-url", slow_target, "--set", "load.path=/api/v0/ping",
        "--duration", "2", "--rate", "100",
        "--users", "40", "--report-dir", str(tmp_path), "--set", "load.floor_duration_s=2",
        "--set", "gates.load_p95_ms=0.001",
    )  # fmt: skip
    report = _report(tmp_path)
    load = report["load"]
    assert load["latency_ms"]["p50"] >= ADDED_DELAY_S * 1000
    # the floor is milliseconds; 200 ms of the target's own is far past 2x of it
    assert load["floor"]["at_floor"] == {"p50": False, "p95": False, "p99": False}, load["floor"]
    assert "is within 2x" not in result.stdout + result.stderr
    gate = next(g for g in report["gates"] if g["name"] == "load_p95_ms")
    assert gate["outcome"] == "fail"
    assert AT_FLOOR not in gate["detail"]
    assert result.returncode == 1, result.stdout + result.stderr


def test_calibrate_measures_the_floor_alone_and_judges_nothing(tmp_path: Path) -> None:
    result = run_cli(
        "load", "--calibrate", "--duration", "1", "--rate", "200", "--report-dir", str(tmp_path)
    )
    assert result.returncode == 3, result.stdout + result.stderr
    report = _report(tmp_path)
    assert report["load"] is None
    assert report["floor"]["requests"] == 200
    assert report["floor"]["percentile_bounds_ms"]["p99"]["n"] == 200
    assert report["gates"] == []
    assert "target" not in report["components"]
    assert "### The generator's floor" in (tmp_path / "latest" / "summary.md").read_text()
