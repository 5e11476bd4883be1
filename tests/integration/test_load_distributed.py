"""A Locust master and workers started as separate commands on 127.0.0.1, the way a user
starts them on several machines: ``load --expect-workers N --master-bind ADDR:PORT`` and
``load-worker --master ADDR:PORT``, against a real uvicorn server that counts what it gets.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_helpers import ROOT, run_cli
from counting_server import Server, counting_server

from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def server() -> Iterator[Server]:
    with counting_server() as running:
        yield running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_cli(*args: str, log: Path) -> subprocess.Popen[str]:
    """A command of ours in the background, its output into ``log``."""
    with log.open("w", encoding="utf-8") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@pytest.fixture
def commands() -> Iterator[list[subprocess.Popen[str]]]:
    """Every command a test starts, ended by PID if still running when it is over."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        process.wait(timeout=10)


def master(server: Server, port: int, workers: int, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "load", "--target-url", server.url, "--set", "load.path=/ping",
        "--expect-workers", str(workers), "--master-bind", f"127.0.0.1:{port}",
        "--baseline", "none", "--report-dir", str(tmp_path / "reports"), *extra,
    ]  # fmt: skip


def report_load(tmp_path: Path) -> dict[str, object]:
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    load: dict[str, object] = report["load"]
    return load


@pytest.mark.parametrize("workers", [1, 2])
def test_a_master_and_its_workers_as_separate_commands_merge_exactly(
    server: Server, tmp_path: Path, commands: list[subprocess.Popen[str]], workers: int
) -> None:
    port = free_port()
    args = master(
        server, port, workers, tmp_path, "--users", "4", "--rate", "200", "--duration", "2"
    )
    commands.append(start_cli(*args, log=tmp_path / "master.log"))
    for i in range(workers):
        worker_args = ("load-worker", "--master", f"127.0.0.1:{port}")
        commands.append(start_cli(*worker_args, log=tmp_path / f"worker{i}.log"))
    codes = [process.wait(timeout=180) for process in commands]
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
    assert codes == [0] * (workers + 1), logs
    load = report_load(tmp_path)
    # the whole open-model schedule, split over the workers, and the server agrees
    assert load["requests"] == load["samples"] == 400 == server.hits["ping"]
    assert load["workers"] == {"expected": workers, "finished": workers}
    assert load["processes"] == workers
    said = " ".join(logs.split())  # the console wraps long lines
    assert f"{workers} of {workers} workers finished" in said
    assert f"a Locust master on 127.0.0.1:{port} and {workers} worker" in said
    assert "that joined it (load-worker)" in said


def test_a_locustfile_travels_to_the_workers_from_the_master(
    server: Server, tmp_path: Path, commands: list[subprocess.Popen[str]]
) -> None:
    locustfile = tmp_path / "two_users.py"
    locustfile.write_text(
        textwrap.dedent(
            """\
            from locust import FastHttpUser, HttpUser, constant, task

            class Pinger(HttpUser):
                wait_time = constant(0.01)

                @task
                def ping(self):
                    self.client.get("/ping")

            class Looker(FastHttpUser):
                wait_time = constant(0.01)

                @task
                def item(self):
                    with self.client.get("/items/7", name="/items/[id]", catch_response=True) as r:
                        if r.status_code == 404:
                            r.success()
            """
        ),
        encoding="utf-8",
    )
    port = free_port()
    args = master(server, port, 2, tmp_path, "--locustfile", str(locustfile), "--duration", "2")
    commands.append(start_cli(*args, log=tmp_path / "master.log"))
    for i in range(2):
        worker_args = ("load-worker", "--master", f"127.0.0.1:{port}")
        commands.append(start_cli(*worker_args, log=tmp_path / f"worker{i}.log"))
    codes = [process.wait(timeout=180) for process in commands]
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
    assert codes == [0, 0, 0], logs
    load = report_load(tmp_path)
    rows = {r["name"]: r for r in load["by_request"]}  # type: ignore[attr-defined]
    assert set(rows) == {"GET /ping", "GET /items/[id]"}
    assert rows["GET /ping"]["requests"] <= server.hits["ping"]
    assert rows["GET /items/[id]"]["failures"] == 0
    assert load["workers"] == {"expected": 2, "finished": 2}


def test_a_worker_that_dies_mid_run_leaves_the_run_going_and_is_counted(
    server: Server, tmp_path: Path, commands: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    # 100 req/s for 5 s: 500 requests, 250 per worker (each owns two users' slots)
    args = master(
        server, port, 2, tmp_path, "--users", "4", "--rate", "100", "--duration", "5",
        "--set", "gates.load_error_rate=0.05",  # 250 clean requests decide <= 0.05
    )  # fmt: skip
    commands.append(start_cli(*args, log=tmp_path / "master.log"))
    workers = [
        start_cli("load-worker", "--master", f"127.0.0.1:{port}", log=tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    commands.extend(workers)
    poll_until("the load under way", lambda: server.hits["ping"] >= 100, 120, interval_s=0.05)
    doomed = psutil.Process(workers[0].pid).children()
    assert len(doomed) == 1  # the Locust worker the command runs
    os.kill(doomed[0].pid, signal.SIGKILL)
    assert workers[0].wait(timeout=30) == 1  # its command says it sent no report
    assert commands[0].wait(timeout=180) == 0, (tmp_path / "master.log").read_text()
    assert workers[1].wait(timeout=30) == 0
    load = report_load(tmp_path)
    assert load["workers"] == {"expected": 2, "finished": 1}
    # the survivor ran its whole share; the dead one's requests went with it
    assert load["requests"] == load["samples"] == 250
    assert 250 < server.hits["ping"] < 500
    said = " ".join((tmp_path / "master.log").read_text().split())  # the console wraps
    assert "1 of 2 workers finished (a lost worker's requests went with it" in said
    assert "1 of 2 workers finished" in (tmp_path / "reports" / "latest" / "summary.md").read_text()


def test_workers_beyond_the_expected_count_are_sent_away_at_the_start_and_mid_run(
    server: Server, tmp_path: Path, commands: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    args = master(server, port, 1, tmp_path, "--users", "4", "--rate", "100", "--duration", "6")
    commands.append(start_cli(*args, log=tmp_path / "master.log"))
    worker_args = ("load-worker", "--master", f"127.0.0.1:{port}")
    for i in range(2):  # one too many, from the start
        commands.append(start_cli(*worker_args, log=tmp_path / f"worker{i}.log"))
    poll_until("the load under way", lambda: server.hits["ping"] >= 50, 120, interval_s=0.05)
    commands.append(start_cli(*worker_args, log=tmp_path / "worker2.log"))  # and one late
    codes = [process.wait(timeout=180) for process in commands]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(3)]
    assert codes[0] == 0, (tmp_path / "master.log").read_text()
    assert sorted(codes[1:]) == [0, 1, 1], logs
    assert sum("the master sent this worker away" in log for log in logs) == 2, logs
    load = report_load(tmp_path)
    # the one worker taken ran the whole schedule: no user of it was dealt to the others
    assert load["requests"] == 600 == server.hits["ping"]
    assert load["workers"] == {"expected": 1, "finished": 1}


# A bare Locust worker: it connects to the master, registers a handler for the spec and
# says nothing for 2 s (a slow worker between Locust's connect and its own handlers), then
# leaves. The master must not send it the spec it never asked for.
BARE_WORKER = """\
import json, sys, time
import gevent
from locust.env import Environment

runner = Environment(user_classes=[]).create_worker_runner("127.0.0.1", int(sys.argv[1]))
got = []
runner.register_message("harness_spec", lambda environment, msg: got.append(msg.data))
gevent.sleep(2.0)
print(json.dumps({"specs": len(got), "connected": runner.client_id}))
runner.quit()
"""


def test_the_spec_goes_only_to_a_worker_that_asked_for_it(
    server: Server, tmp_path: Path, commands: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    args = master(server, port, 1, tmp_path, "--users", "4", "--rate", "200", "--duration", "2")
    commands.append(start_cli(*args, log=tmp_path / "master.log"))
    script = tmp_path / "bare_worker.py"
    script.write_text(BARE_WORKER, encoding="utf-8")
    bare = subprocess.run(
        [sys.executable, str(script), str(port)], capture_output=True, text=True, timeout=120
    )
    assert bare.returncode == 0, bare.stderr
    assert json.loads(bare.stdout.splitlines()[-1])["specs"] == 0
    # the master is still waiting for a worker, and the one that asks runs the whole run
    worker_args = ("load-worker", "--master", f"127.0.0.1:{port}")
    commands.append(start_cli(*worker_args, log=tmp_path / "worker.log"))
    codes = [process.wait(timeout=180) for process in commands]
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
    assert codes == [0, 0], logs
    load = report_load(tmp_path)
    assert load["requests"] == 400 == server.hits["ping"]
    assert load["workers"] == {"expected": 1, "finished": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["load", "--expect-workers", "1", "--master-bind", "10.1.2.3:5557"],
            "--master-bind '10.1.2.3:5557': 10.1.2.3 is outside 127.0.0.0/8",
        ),
        (["load", "--expect-workers", "3"], "--expect-workers 3 with 10 users"),
        (["load-worker", "--master", "10.1.2.3:5557"], "--master '10.1.2.3:5557': 10.1.2.3"),
        (["load-worker", "--master", "nowhere"], "--master 'nowhere': expected HOST:PORT"),
    ],
)
def test_a_master_or_worker_off_loopback_or_malformed_is_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = (
        run_cli(*args, "--report-dir", str(tmp_path), timeout=60)
        if args[0] == "load"
        else (run_cli(*args, timeout=60))
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
