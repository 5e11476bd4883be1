"""``--processes N|auto`` on ``load`` and ``gate``, through the CLI against the reference API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from cli_helpers import ROOT, run_cli
from counting_server import Server, counting_server

from target_api.testing import poll_until

pytestmark = pytest.mark.integration


def test_load_with_two_processes_runs_a_master_and_two_workers_and_merges_exactly(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "load", "--processes", "2", "--users", "4", "--rate", "200", "--duration", "2",
        "--baseline", "none", "--report-dir", str(tmp_path), timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    load = json.loads((tmp_path / "latest" / "report.json").read_text())["load"]
    assert load["processes"] == 2
    # the open-model schedule: 200 req/s for 2 s, split between the two workers
    assert load["requests"] == load["samples"] == 400
    assert sum(p["requests"] for p in load["timeline"]) == 400


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("load", ["--processes", "3"], "--processes 3 with 10 users"),
        ("load", ["--processes", "0"], "--processes '0': must be an integer from 1 to 64"),
        ("gate", ["--processes", "many"], "--processes 'many': must be an integer from 1 to 64"),
    ],
)
def test_bad_processes_are_exit_2_before_anything_starts(
    tmp_path: Path, command: str, args: list[str], message: str
) -> None:
    reports = tmp_path / "reports"
    result = run_cli(command, *args, "--report-dir", str(reports), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not list(reports.glob("*/report.json"))


def _kill_one_local_worker_mid_run(
    server: Server, tmp_path: Path, *load_args: str
) -> tuple[int, str, dict[str, Any]]:
    """``load --processes 2`` against ``server``; once it is under way one of the two Locust
    workers the harness started is killed (SIGKILL, by its PID). The exit code, the
    console output and report.json's load section."""
    args = [
        sys.executable, "-m", "harness", "load", "--target-url", server.url,
        "--set", "load.path=/ping", "--set", "load.floor_enabled=false", "--processes", "2",
        "--baseline", "none", "--report-dir", str(tmp_path), *load_args,
    ]  # fmt: skip
    log = tmp_path / "load.log"
    with log.open("w", encoding="utf-8") as out:
        command = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        poll_until("the load under way", lambda: server.hits["ping"] >= 60, 120, 0.05)
        workers = [
            p
            for p in psutil.Process(command.pid).children(recursive=True)
            if "--role worker" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2  # the Locust workers the harness started here
        workers[0].kill()
        code = command.wait(timeout=120)
    finally:
        if command.poll() is None:
            for child in psutil.Process(command.pid).children(recursive=True):
                child.kill()
            command.kill()
            command.wait(timeout=10)
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    return code, log.read_text(encoding="utf-8"), report["load"]


@pytest.mark.slow
def test_a_local_worker_that_dies_mid_run_leaves_the_run_going_and_is_counted(
    tmp_path: Path,
) -> None:
    with counting_server() as server:
        # 100 req/s for 4 s: 400 requests, 200 per local worker (each owns two users' slots)
        code, output, load = _kill_one_local_worker_mid_run(
            server, tmp_path, "--users", "4", "--rate", "100", "--duration", "4",
            "--set", "gates.load_error_rate=0.05",  # 200 clean requests decide <= 0.05
        )  # fmt: skip
        sent = server.hits["ping"]
    assert code == 0, output
    assert load["workers"] == {"expected": 2, "finished": 1}
    # the survivor ran its whole share; the dead one's requests went with it
    assert load["requests"] == load["samples"] == 200
    assert 200 < sent < 400
    assert "1 of 2 workers finished" in output


LOCUSTFILE = """\
from locust import HttpUser, constant, task

class Pinger(HttpUser):
    wait_time = constant(0.02)

    @task
    def ping(self):
        self.client.get("/ping")
"""


@pytest.mark.slow
def test_a_local_worker_of_a_locustfile_run_that_dies_mid_run_is_counted_too(
    tmp_path: Path,
) -> None:
    locustfile = tmp_path / "pinger.py"
    locustfile.write_text(LOCUSTFILE, encoding="utf-8")
    with counting_server() as server:
        code, output, load = _kill_one_local_worker_mid_run(
            server, tmp_path, "--locustfile", str(locustfile), "--users", "2",
            "--duration", "3", "--set", "gates.load_error_rate=0.05",
        )  # fmt: skip
        sent = server.hits["ping"]
    assert code == 0, output
    assert load["workers"] == {"expected": 2, "finished": 1}
    assert 0 < load["requests"] < sent  # the survivor's only
    assert "1 of 2 workers finished" in output
