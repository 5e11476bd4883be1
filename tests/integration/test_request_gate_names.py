"""A request gate naming no request of the load is refused before any traffic (exit 2, the
file, the field, the value and the valid names), through the CLI as a user runs it; a
locustfile's names, known only once it ran, read "not measured" when one never came."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from counting_server import Server, counting_server

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[Server]:
    with counting_server() as running:
        yield running


GATES = """\
[[profiles.smoke.gates.requests]]
name = "GET /ping"
p95_ms = 50
[[profiles.smoke.gates.requests]]
name = "GET /pnig"
p95_ms = 50
"""


@pytest.mark.parametrize("command", ["load", "gate"])
def test_a_request_gate_naming_no_request_of_the_load_is_exit_2_before_any_traffic(
    server: Server, tmp_path: Path, command: str
) -> None:
    config = tmp_path / "reliability.toml"
    config.write_text('[profiles.smoke.load]\npath = "/ping"\n' + GATES, encoding="utf-8")
    reports = tmp_path / "reports"
    result = run_cli(
        command, "--config", str(config), "--target-url", server.url,
        "--set", "chaos.enabled=false", "--report-dir", str(reports), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"invalid request name 'GET /pnig' from {config} [[profiles.smoke.gates.requests]] "
        "name (entry 2 of 2): must be one of 'GET /ping' (load.path '/ping' from "
        f"{config} [profiles.smoke.load] path)"
    ) in " ".join(result.stderr.split())
    assert sum(server.hits.values()) == 0  # not one request: refused before the load
    assert not list(reports.glob("*/report.json"))  # and no run left behind


def test_a_request_gate_naming_no_request_of_a_load_file_is_exit_2(
    server: Server, tmp_path: Path
) -> None:
    load_file = tmp_path / "mix.toml"
    load_file.write_text('[[requests]]\npath = "/ping"\nname = "ping"\n', encoding="utf-8")
    result = run_cli(
        "load", "--load-file", str(load_file), "--target-url", server.url,
        "--set", 'gates.requests=[{name = "GET /ping", p95_ms = 50}]',
        "--report-dir", str(tmp_path / "reports"), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "invalid request name 'GET /ping' from --set gates.requests=" in said
    assert f"must be one of 'ping' (the requests of the load file {load_file})" in said
    assert sum(server.hits.values()) == 0


def test_a_locustfile_request_gate_whose_name_never_came_reads_not_measured(
    server: Server, tmp_path: Path
) -> None:
    locustfile = tmp_path / "pinger.py"
    locustfile.write_text(
        textwrap.dedent(
            """\
            from locust import HttpUser, constant, task

            class Pinger(HttpUser):
                wait_time = constant(0.01)

                @task
                def ping(self):
                    self.client.get("/ping")
            """
        ),
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    result = run_cli(
        "load", "--locustfile", str(locustfile), "--target-url", server.url,
        "--users", "2", "--duration", "1.5", "--set", "load.floor_enabled=false",
        "--set", 'gates.requests=[{name = "GET /never", p95_ms = 50}]',
        "--baseline", "none", "--report-dir", str(reports), timeout=120,
    )  # fmt: skip
    # nothing to judge the gate on: insufficient (exit 3), never a pass
    assert result.returncode == 3, result.stdout + result.stderr
    report = json.loads((reports / "latest" / "report.json").read_text())
    gate = next(g for g in report["gates"] if g["name"] == "load_p95_ms[GET /never]")
    assert gate["outcome"] == "insufficient"
    assert gate["detail"].startswith("not measured: no request named 'GET /never' was sent")
    assert "GET /ping" in gate["detail"]  # what it did send
    summary = (reports / "latest" / "summary.md").read_text()
    assert "not measured: no request named 'GET /never' was sent" in summary
    assert "not measured: no request named" in (reports / "latest" / "index.html").read_text()
