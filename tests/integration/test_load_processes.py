"""``--processes N|auto`` on ``load`` and ``gate``, through the CLI against the reference API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
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
    # what is merged is checked here, not how fast: a latency limit that a busy machine can
    # pass (its p95 reached 102 ms once beside a benchmark, against the profile's 50 ms)
    result = run_cli(
        "load", "--processes", "2", "--users", "4", "--rate", "200", "--duration", "2",
        "--set", "gates.load_p95_ms=5000", "--baseline", "none", "--report-dir", str(tmp_path),
        timeout=180,
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


def _children(command: subprocess.Popen[str]) -> list[tuple[psutil.Process, str]]:
    """The command's descendants with their command lines (a child that has just ended, a
    zombie or gone, has none and is left out)."""
    found: list[tuple[psutil.Process, str]] = []
    for child in psutil.Process(command.pid).children(recursive=True):
        try:
            found.append((child, " ".join(child.cmdline())))
        except psutil.Error:
            continue
    return found


def _workers(children: list[tuple[psutil.Process, str]]) -> list[psutil.Process]:
    return [p for p, line in children if "--role worker" in line]


def _kill_one_local_worker(
    tmp_path: Path,
    args: list[str],
    victims: Callable[[subprocess.Popen[str]], list[psutil.Process]],
) -> tuple[int, str, dict[str, Any]]:
    """``python -m harness load *args``; once ``victims(command)`` names the Locust workers
    (the moment it waits for has come), the first is killed (SIGKILL, by its PID). The exit
    code, the console output and report.json's load section."""
    log = tmp_path / "load.log"
    with log.open("w", encoding="utf-8") as out:
        command = subprocess.Popen(
            [sys.executable, "-m", "harness", "load", *args, "--report-dir", str(tmp_path)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    found: list[psutil.Process] = []

    def ready() -> bool:
        found[:] = victims(command)
        return bool(found)

    try:
        poll_until("the moment to kill a worker", ready, 120, 0.05)
        found[0].kill()
        code = command.wait(timeout=120)
    finally:
        if command.poll() is None:
            for child in psutil.Process(command.pid).children(recursive=True):
                child.kill()
            command.kill()
            command.wait(timeout=10)
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    return code, log.read_text(encoding="utf-8"), report["load"]


def _kill_one_local_worker_mid_run(
    server: Server, tmp_path: Path, *load_args: str
) -> tuple[int, str, dict[str, Any]]:
    """``load --processes 2`` against ``server``; once it is under way (60 requests seen)
    one of the two Locust workers the harness started is killed."""

    def under_way(command: subprocess.Popen[str]) -> list[psutil.Process]:
        if server.hits["ping"] < 60:
            return []
        workers = _workers(_children(command))
        assert len(workers) == 2  # the Locust workers the harness started here
        return workers

    args = [
        "--target-url", server.url, "--set", "load.path=/ping",
        "--set", "load.floor_enabled=false", "--processes", "2", "--baseline", "none",
        *load_args,
    ]  # fmt: skip
    return _kill_one_local_worker(tmp_path, args, under_way)


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
    said = (
        "generated by the harness's generated user, run by a Locust master and 2 local "
        "worker processes: 1 of 2 workers finished"
    )
    assert said in " ".join(output.split())  # the console (which wraps long lines)
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert said.replace("generated", "Generated", 1) in summary


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
    said = " ".join(output.split())  # the console wraps long lines
    assert f"generated by the locustfile {locustfile}, run by a Locust master and 2" in said
    assert "1 of 2 workers finished" in said


@pytest.mark.slow
def test_a_local_worker_that_dies_during_the_floor_leaves_the_run_going_and_is_said(
    tmp_path: Path,
) -> None:
    """The floor runs the load's processes against the null server: a worker killed while
    it measures leaves the floor to the other, and every report says 1 of 2 finished."""

    def floor_under_way(command: subprocess.Popen[str]) -> list[psutil.Process]:
        """The floor's two workers, once every user holds a connection to the null server
        (the floor is sending); else []."""
        children = _children(command)
        null = [p for p, line in children if "harness.load.null_server" in line]
        workers = _workers(children)
        if len(null) != 1 or len(workers) != 2:
            return []
        try:
            connections = null[0].net_connections()
        except psutil.Error:
            return []
        established = [c for c in connections if c.status == "ESTABLISHED"]
        return workers if len(established) >= 4 else []

    with counting_server() as server:
        code, output, load = _kill_one_local_worker(
            tmp_path,
            [
                "--target-url", server.url, "--set", "load.path=/ping",
                "--set", "load.floor_duration_s=4", "--processes", "2", "--users", "4",
                "--rate", "100", "--duration", "2", "--set", "gates.load_error_rate=0.05",
                "--set", "gates.load_p95_ms=5000", "--baseline", "none",
            ],
            floor_under_way,
        )  # fmt: skip
        sent = server.hits["ping"]
    output = " ".join(output.split())  # the console wraps long lines
    assert code == 0, output
    # the load itself ran on two fresh workers, whole
    assert load["workers"] == {"expected": 2, "finished": 2}
    assert load["requests"] == sent == 200
    floor = load["floor"]
    assert floor["workers"] == {"expected": 2, "finished": 1}
    assert 0 < floor["requests"] < 400  # the survivor's share, not the 4 s x 100 planned
    assert "against the null server, 1 of 2 workers finished)" in output
    summary = (tmp_path / "latest" / "summary.md").read_text(encoding="utf-8")
    assert "2 worker processes, 1 of 2 finished) against null server" in summary
