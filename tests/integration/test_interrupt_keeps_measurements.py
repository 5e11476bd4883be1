"""Interrupting a phase keeps what it measured: the load's counts and histograms so far, the
chaos injections completed, each marked as such; the run ends as interrupted (exit 130).

The target is a real HTTP server in this process that counts what it is sent, so each test
interrupts once the phase has demonstrably sent traffic, never after a guessed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import stacks_of
from http_servers import CountingServer, loopback_http

from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def counting_server() -> contextlib.AbstractContextManager[tuple[str, CountingServer]]:
    """A real HTTP server answering 200 to every GET, counting them."""
    return loopback_http(lambda _path: 200)


@contextlib.contextmanager
def harness(*args: str, cwd: Path = ROOT) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``python -m harness ARGS`` with its stderr lines collected as they come."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    reader.start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        reader.join(timeout=10)  # every line the harness wrote, read
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _interrupted(process: subprocess.Popen[str], lines: list[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=90)  # stdout is a few lines: its pipe cannot fill meanwhile
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within 90 s of SIGINT; its stacks:\n{stacks_of(process, lines)}")
    stdout = process.stdout.read() if process.stdout else ""  # stderr: the reader thread's
    assert process.returncode == 130, stdout + "".join(lines)
    return stdout


def _report(reports: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((reports / "latest" / "report.json").read_text())


def test_sigint_during_the_load_keeps_its_counts_and_histogram(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with counting_server() as (url, server), harness(
        "load", "--target-url", url, "--duration", "60", "--rate", "100", "--users", "4",
        "--set", "load.path=/api/v0/ping", "--report-dir", str(reports),
    ) as (process, lines):  # fmt: skip
        poll_until("the load sent 150 requests", lambda: server.requests >= 150, 60)
        _interrupted(process, lines)
    report = _report(reports)
    assert (report["status"], report["exit_code"]) == ("interrupted", 130)
    assert "SIGINT" in report["error"]
    load = report["load"]
    assert load is not None, "the load measured so far was dropped"
    assert load["interrupted"] is True
    assert 100 <= load["requests"] <= 60 * 100  # what was sent before the interruption
    assert load["histogram_encoded"]
    assert load["percentile_bounds_ms"]["p95"]["n"] == load["samples"]
    assert any("load: interrupted after" in line for line in lines)


def test_sigusr1_prints_every_stack_and_the_load_goes_on(tmp_path: Path) -> None:
    # what a stuck harness was doing: its own threads and its load process's, on demand
    with counting_server() as (url, server), harness(
        "load", "--target-url", url, "--duration", "60", "--rate", "50", "--users", "2",
        "--set", "load.path=/api/v0/ping", "--report-dir", str(tmp_path / "reports"),
    ) as (process, lines):  # fmt: skip
        poll_until("the load sent 20 requests", lambda: server.requests >= 20, 60)
        stacks = stacks_of(process, lines)
        sent = server.requests
        poll_until("the load went on", lambda: server.requests >= sent + 20, 30)
        assert process.poll() is None
        _interrupted(process, lines)
    harness_part, _, children = stacks.partition("local.stderr:")
    assert "Current thread" in harness_part
    assert "harness/load/driver.py" in harness_part
    assert "harness/load/worker.py" in children, stacks  # a user greenlet's stack


def _catches_sigusr1_while_importing_locust(pid: int) -> bool:
    """The process has a handler for SIGUSR1 (its SigCgt mask, bit 10) and has not loaded
    pyzmq yet (its library is not mapped), which locust imports after gevent: it is still
    importing locust (here from about 0.04 s to 0.29 s after its start)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    caught = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt")), 16
    )
    return bool(caught & (1 << (signal.SIGUSR1 - 1))) and "zmq" not in maps


def test_sigusr1_to_a_load_process_still_starting_does_not_end_it(tmp_path: Path) -> None:
    # the floor's Locust process, signalled while it imports locust (about a second): before
    # its handler came first, the signal ended it there and the load failed with exit 4
    import psutil

    def starting() -> int | None:
        for proc in psutil.Process(process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "--spec" in proc.cmdline() and _catches_sigusr1_while_importing_locust(proc.pid):
                    return proc.pid
        return None

    with counting_server() as (url, _server), harness(
        "load", "--target-url", url, "--duration", "2", "--rate", "20", "--users", "2",
        "--set", "load.path=/api/v0/ping", "--report-dir", str(tmp_path / "reports"),
    ) as (process, lines):  # fmt: skip
        poll_until(
            "a load process still importing locust", lambda: starting() is not None, 60, 0.01
        )
        pid = starting()
        assert pid is not None
        os.kill(pid, signal.SIGUSR1)
        code = process.wait(timeout=120)
    report = _report(tmp_path / "reports")
    # the run ends by its verdict (40 requests cannot prove the error-rate gate: exit 3),
    # not as a load generator that died of the signal (exit 4)
    assert (report["status"], report["exit_code"]) == ("completed", code), "".join(lines)
    assert code in (0, 1, 3)
    assert report["load"]["requests"] > 0


EXPERIMENT = """
title = "latency on a counting server"

[steady_state]
path = "/ping"
expect_status = [200]
max_latency_ms = 40.0
samples = 5

[[method]]
link = "api"
type = "latency"
attributes = { latency = 60, jitter = 0 }
duration_s = 1.0

[expect]
min_effect_ms = 50.0
max_recovery_s = 10.0
max_error_rate = 0.0
"""


def test_sigint_after_the_first_injection_keeps_it_marked_partial(tmp_path: Path) -> None:
    experiment = tmp_path / "latency.toml"
    experiment.write_text(EXPERIMENT)
    reports = tmp_path / "reports"
    with counting_server() as (url, _server), harness(
        "chaos", str(experiment), "--injections", "3", "--target-url", url,
        "--report-dir", str(reports),
    ) as (process, lines):  # fmt: skip
        poll_until(
            "the second injection started",
            lambda: any("injection 2/3: fault on" in line for line in lines),
            120,
        )
        _interrupted(process, lines)
    report = _report(reports)
    assert (report["status"], report["exit_code"]) == ("interrupted", 130)
    (chaos,) = report["chaos"]
    assert chaos["partial"] is True
    assert len(chaos["injections"]) == 1  # the one completed; the one under way rolled back
    assert chaos["injections"][0]["recovered"] is True
    assert "interrupted after 1 of 3 injection(s)" in chaos["error"]


def test_a_gate_interrupted_during_the_load_keeps_the_tests_and_the_load(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    (project / "checks" / "test_quick.py").write_text("def test_quick():\n    assert True\n")
    (project / "reliability.toml").write_text(
        'default_profile = "p"\n[profiles.p.tests]\npaths = ["checks"]\nworkers = "1"\n'
        '[profiles.p.load]\nduration_s = 60.0\nrate_rps = 100.0\nusers = 4\npath = "/ping"\n'
        "[profiles.p.chaos]\nenabled = false\n"
        "[profiles.p.gates]\ntest_success = 0.5\nload_error_rate = 0.01\n"
    )
    reports = tmp_path / "reports"
    with (
        counting_server() as (url, server),
        harness("gate", "--target-url", url, "--report-dir", str(reports), cwd=project) as (
            process,
            lines,
        ),
    ):
        poll_until("the load sent 150 requests", lambda: server.requests >= 150, 120)
        _interrupted(process, lines)
    report = _report(reports)
    assert report["status"] == "interrupted"
    assert [t["n"] for t in report["tests"]] == [1]
    assert report["load"] is not None
    assert report["load"]["interrupted"] is True
    assert report["load"]["requests"] >= 100
