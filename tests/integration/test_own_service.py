"""A team's own service, not the reference API: no Moonbase route anywhere.

A small FastAPI service (``/healthz``, ``GET /items/{id}``, ``POST /items``, a 50 ms
``/slow``) runs under a real uvicorn on a free loopback port. Its project has its own
scenarios, its own experiment and its own reliability.toml, and ``gate --target-url`` is
run on it as a user would: a subprocess, from the project's directory.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cli_helpers import run_cli
from fastapi import FastAPI, HTTPException

from target_api.testing import poll_until

pytestmark = [pytest.mark.integration]


def _app() -> FastAPI:
    app = FastAPI()
    items: dict[int, dict[str, object]] = {1: {"id": 1, "name": "first"}}
    items.update({i: {"id": i, "name": f"item {i}"} for i in range(2, 51)})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, object]:
        if item_id not in items:
            raise HTTPException(404, "no such item")
        return items[item_id]

    @app.post("/items", status_code=201)
    def post_item(body: dict[str, object]) -> dict[str, object]:
        if not isinstance(body.get("name"), str) or not isinstance(body.get("qty"), int):
            raise HTTPException(422, "name (a string) and qty (an integer) are required")
        item = {**body, "id": max(items) + 1}
        items[int(str(item["id"]))] = item
        return item

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.05)
        return {"status": "slow"}

    return app


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """The service under a real uvicorn on a free loopback port; stopped afterwards."""
    server = uvicorn.Server(
        uvicorn.Config(_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="own-service", daemon=True)
    thread.start()
    poll_until("the service's uvicorn started", lambda: server.started, 20.0)
    sock: socket.socket = server.servers[0].sockets[0]
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15.0)


SCENARIO = """
import httpx


def test_an_item_can_be_read(target_url: str) -> None:
    assert httpx.get(f"{target_url}/items/1", timeout=5).json()["name"] == "first"


def test_an_item_can_be_created(target_url: str) -> None:
    response = httpx.post(f"{target_url}/items", json={"name": "new", "qty": 1}, timeout=5)
    assert response.status_code == 201


def test_a_missing_item_is_404(target_url: str) -> None:
    assert httpx.get(f"{target_url}/items/999999", timeout=5).status_code == 404


def test_slow_answers(target_url: str) -> None:
    assert httpx.get(f"{target_url}/slow", timeout=5).json() == {"status": "slow"}
"""

BROKEN = """
def test_the_always_broken_one() -> None:
    assert 1 == 2, "this test never passes"
"""

EXPERIMENT = """
title = "50 ms of latency in front of the items service"

[steady_state]
path = "/healthz"
expect_status = [200]
max_latency_ms = 40.0
samples = 10

[[method]]
link = "api"
type = "latency"
attributes = { latency = 50, jitter = 0 }
duration_s = 1.0

[expect]
min_effect_ms = 45.0
max_recovery_s = 10.0
max_error_rate = 0.0
"""

LOAD = """
# the items service's own mix: a JSON body, a templated path, a slow endpoint
rate_rps = 100.0
users = 8
duration_s = 4.0

[[requests]]
path = "/healthz"
weight = 2

[[requests]]
path = "/items/{id}"
weight = 4
values = { id = { range = [1, 50] } }

[[requests]]
method = "POST"
path = "/items"
json = { name = "load item {n}", qty = "{n}" }
values = { n = [1, 2, 3] }
expect_status = [201]

[[requests]]
path = "/slow"
"""

CONFIG = """
default_profile = "items"

[profiles.items]
description = "The items service: its own scenarios, load and experiment."

[profiles.items.target]
ready_path = "/healthz"

[profiles.items.tests]
paths = ["checks"]
workers = "1"
repeat = 5
slo = 0.5
timeout_s = 30.0
budget_s = 120.0

[profiles.items.load]
load_file = "load/items.toml"

[profiles.items.chaos]
directory = "chaos"
experiments = ["healthz-latency"]

[profiles.items.gates]
test_success = 0.5
load_error_rate = 0.05
load_p95_ms = 250.0
chaos_recovery_s = 30.0
"""


def _project(root: Path, *, broken: bool = False) -> Path:
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "test_items.py").write_text(textwrap.dedent(SCENARIO))
    if broken:
        (root / "checks" / "test_broken.py").write_text(textwrap.dedent(BROKEN))
    (root / "chaos").mkdir()
    (root / "chaos" / "healthz-latency.toml").write_text(EXPERIMENT)
    (root / "load").mkdir()
    (root / "load" / "items.toml").write_text(LOAD)
    (root / "reliability.toml").write_text(CONFIG)
    return root


def _gate(project: Path, url: str, *extra: str) -> tuple[int, str, dict[str, object]]:
    result = run_cli(
        "gate", "--target-url", url, "--report-dir", str(project / "reports"), *extra,
        cwd=project, timeout=300,
    )  # fmt: skip
    report = json.loads((project / "reports" / "latest" / "report.json").read_text())
    return result.returncode, result.stdout + result.stderr, report


@pytest.mark.slow
def test_the_gate_passes_on_a_service_of_ones_own_with_no_moonbase_route(
    tmp_path: Path, service: str
) -> None:
    project = _project(tmp_path / "items")
    code, output, report = _gate(project, service)
    assert code == 0, output
    assert "verdict: pass (exit 0)" in output
    assert f"waiting for {service}: GET /healthz answering 200" in output
    gates = {g["name"]: g["outcome"] for g in report["gates"]}  # type: ignore[union-attr]
    assert gates == {
        "test_success": "pass",
        "load_error_rate": "pass",
        "load_p95_ms": "pass",
        "chaos_recovery_s": "pass",
    }
    # the load file's mix, each request on its own: the slow one is not averaged in
    by_request = {r["name"]: r for r in report["load"]["by_request"]}  # type: ignore[index]
    assert set(by_request) == {"GET /healthz", "GET /items/{id}", "POST /items", "GET /slow"}
    assert all(r["failures"] == 0 and r["requests"] > 0 for r in by_request.values())
    assert by_request["GET /slow"]["latency_ms"]["p50"] >= 50.0
    assert by_request["GET /healthz"]["latency_ms"]["p50"] < 50.0
    summary = (project / "reports" / "latest" / "summary.md").read_text()
    assert "| GET /items/{id} |" in summary
    # the checklist, row by row: what this run cannot measure is never a pass
    readiness = report["readiness"]
    rows = {r["key"]: r for r in readiness["rows"]}  # type: ignore[index]
    assert len(rows) == 11
    assert rows["memory_mb"]["outcome"] == "not measured"
    assert rows["throughput_rps"]["outcome"] == "not measured"  # the file asks for 100 req/s
    assert readiness["verdict"] in ("not ready", "not shown yet")  # type: ignore[index]
    assert summary.index("Production readiness") < summary.index("## Gates")
    # the whole-run prober watched the service: no outage, and far from five nines in time
    availability = report["availability"]
    assert availability["outages"] == []  # type: ignore[index]
    assert availability["probes"] > 50  # type: ignore[index]
    assert rows["uptime"]["outcome"] == "insufficient"
    assert "more hours with no outage needed" in rows["uptime"]["needs"]
    assert {t["nodeid"].split("::")[1] for t in report["tests"]} == {  # type: ignore[union-attr]
        "test_an_item_can_be_read",
        "test_an_item_can_be_created",
        "test_a_missing_item_is_404",
        "test_slow_answers",
    }


@pytest.mark.slow
def test_one_always_failing_test_fails_the_gate_and_is_named(tmp_path: Path, service: str) -> None:
    # 20 of 25 runs pass: the pool clears 0.5; the broken test, 0/5, is shown below it
    project = _project(tmp_path / "items", broken=True)
    code, output, report = _gate(project, service, "--set", "chaos.enabled=false")
    assert code == 1, output
    (success,) = [g for g in report["gates"] if g["name"] == "test_success"]  # type: ignore[union-attr]
    assert success["outcome"] == "fail"
    assert "test_broken.py::test_the_always_broken_one 0/5" in success["detail"]
    assert "test_the_always_broken_one" in output


def test_a_readiness_path_the_service_does_not_have_is_exit_2_at_once(
    tmp_path: Path, service: str
) -> None:
    project = _project(tmp_path / "items")
    result = run_cli(
        "run", "--target-url", service, "--set", "target.ready_path=/api/v0/ping",
        "--report-dir", str(project / "reports"), cwd=project, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "answered GET /api/v0/ping with HTTP 404" in result.stderr
    assert "target.ready_path" in result.stderr


def test_with_no_readiness_path_a_tcp_connect_is_enough(tmp_path: Path, service: str) -> None:
    project = _project(tmp_path / "items")
    config = project / "reliability.toml"
    config.write_text(config.read_text().replace('ready_path = "/healthz"', ""))
    result = run_cli(
        "run", "--target-url", service, "--repeat", "5",
        "--report-dir", str(project / "reports"), cwd=project, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"waiting for {service}: a TCP connect" in result.stderr


def test_phases_switched_off_take_their_gates_with_them(tmp_path: Path, service: str) -> None:
    project = _project(tmp_path / "items")
    code, output, report = _gate(
        project, service, "--set", "load.enabled=false", "--set", "chaos.enabled=false"
    )
    assert code == 0, output  # the tests decide; the gates of phases that did not run are off
    outcomes = {g["name"]: g["outcome"] for g in report["gates"]}  # type: ignore[union-attr]
    assert outcomes == {
        "test_success": "pass",
        "load_error_rate": "off",
        "load_p95_ms": "off",
        "chaos_recovery_s": "off",
    }
    assert report["phases_off"] == {
        "load": "load.enabled = false from --set load.enabled=false",
        "chaos": "chaos.enabled = false from --set chaos.enabled=false",
    }
    summary = (project / "reports" / "latest" / "summary.md").read_text()
    assert "**load: off** (load.enabled = false from --set load.enabled=false)" in summary
    junit = (project / "reports" / "latest" / "junit.xml").read_text()
    assert junit.count("<skipped") >= 3


def test_a_probe_path_the_service_does_not_serve_is_exit_2_before_the_run(
    tmp_path: Path, service: str
) -> None:
    project = _project(tmp_path / "items")
    result = run_cli(
        "gate", "--target-url", service, "--set", "availability.path=/nope",
        "--report-dir", str(project / "reports"), cwd=project, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "answered GET /nope with HTTP 404" in result.stderr
    assert "availability.path" in result.stderr
    assert "tests:" not in result.stderr  # before the phases
