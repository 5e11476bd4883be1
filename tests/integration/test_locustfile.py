"""The user's own locustfile under the harness, against a real uvicorn + Starlette server on
127.0.0.1 (port 0) that counts what it is sent, and through the CLI against the real
reference API.

Each run is a real Locust child process (or a master and two workers) importing the file
as plain Locust would.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_helpers import ROOT, run_cli
from counting_server import STALL_S, Server, counting_server

from harness.errors import ConfigError
from harness.load import LoadSpec, run_load, start_load
from harness.load.histogram import counts_ms, merge_encoded
from harness.load.locustfile_check import check_locustfile
from target_api.testing import poll_until

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[Server]:
    with counting_server() as running:
        yield running


@pytest.fixture(autouse=True)
def no_load_children_left() -> Iterator[None]:
    yield
    # every Locust child a run started is ended, on every path
    left = [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "harness.load." in " ".join(p.cmdline())
    ]
    assert left == []


# Plain Locust: two User classes (HttpUser, FastHttpUser), weighted tasks, wait_time,
# catch_response, a named request, and a shape that ends the run after 1.5 s.
SHOP = """\
    import random
    from locust import FastHttpUser, HttpUser, LoadTestShape, constant, task

    class Reader(HttpUser):
        weight = 2
        wait_time = constant(0.005)

        @task(3)
        def ping(self):
            self.client.get("/ping")

        @task(1)
        def item(self):
            with self.client.get(
                f"/items/{random.randrange(1000)}", name="/items/[id]", catch_response=True
            ) as response:
                if response.status_code == 404:
                    response.success()

    class Breaker(FastHttpUser):
        wait_time = constant(0.01)

        @task
        def fail(self):
            self.client.get("/fail")

    class Short(LoadTestShape):
        def tick(self):
            return (4, 100.0) if self.get_run_time() < 1.5 else None
"""


def write(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_plain_locustfile_is_recorded_per_request_name_and_merged(
    server: Server, tmp_path: Path, processes: int
) -> None:
    spec = LoadSpec(
        server.url,
        rate_rps=0.0,
        duration_s=30.0,
        processes=processes,
        locustfile=write(tmp_path, "shop.py", SHOP),
    )
    started = time.monotonic()
    result = run_load(spec)
    # the shape ended the run, long before duration_s
    assert time.monotonic() - started < 20.0
    assert result.processes == processes
    assert result.model == "closed"
    names = {r.name: r for r in result.by_request}
    assert set(names) == {"GET /ping", "GET /items/[id]", "GET /fail"}
    # every request the harness recorded reached the server; a user stopped mid-request
    # (at most one per user) may have been answered but never reported
    sent = sum(server.hits.values())
    assert result.requests <= sent <= result.requests + 4
    assert names["GET /ping"].requests <= server.hits["ping"]
    assert names["GET /fail"].failures == names["GET /fail"].requests > 0
    assert names["GET /items/[id]"].failures == 0 < names["GET /items/[id]"].requests
    assert names["GET /ping"].failures == 0
    assert result.failures == names["GET /fail"].requests
    # HdrHistograms: the total and every name's own, merged across processes exactly
    assert result.samples == result.requests == sum(r.requests for r in result.by_request)
    for request in result.by_request:
        assert merge_encoded([request.histogram]).get_total_count() == request.requests
        assert 0 < request.latency_ms["p50"] <= request.latency_ms["p99"]


def test_on_start_that_raises_is_a_user_error_at_its_last_frame_and_ends_the_run(
    server: Server, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "login.py",
        """\
        from locust import HttpUser, constant, task

        class LoggedIn(HttpUser):
            wait_time = constant(0.01)

            def on_start(self):
                raise PermissionError("login refused")

            @task
            def ping(self):
                self.client.get("/ping")
        """,
    )
    started = time.monotonic()
    result = run_load(LoadSpec(server.url, rate_rps=0.0, users=3, duration_s=30.0, locustfile=path))
    assert time.monotonic() - started < 20.0  # every user died: the run ended, no hang
    assert result.requests == 0 == server.hits["ping"]
    assert result.user_errors == 3
    assert result.errors == {
        "user error: LoggedIn raised PermissionError: login refused at login.py:7 in on_start": 3
    }


def test_a_task_that_raises_is_counted_and_the_others_go_on(server: Server, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flaky.py",
        """\
        from locust import HttpUser, constant, task

        class Mixed(HttpUser):
            wait_time = constant(0.01)

            @task
            def ping(self):
                self.client.get("/ping")

            @task
            def broken(self):
                {}["missing"]
        """,
    )
    result = run_load(LoadSpec(server.url, rate_rps=0.0, users=2, duration_s=1.5, locustfile=path))
    assert result.requests > 0
    assert result.user_errors > 0
    assert list(result.errors) == [
        "user error: Mixed raised KeyError: 'missing' at flaky.py:12 in broken"
    ]


def test_a_paced_user_is_charged_from_its_tasks_intended_start(
    server: Server, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "paced.py",
        """\
        from locust import HttpUser, constant_pacing, task

        class Paced(HttpUser):
            wait_time = constant_pacing(0.02)  # a task every 20 ms, on schedule

            @task
            def stall(self):
                self.client.get("/stall_once")
        """,
    )
    spec = LoadSpec(server.url, rate_rps=0.0, users=1, duration_s=2.0, locustfile=path)
    result = run_load(spec)
    assert result.paced_users == ("Paced",)
    assert "intended send time for the paced users (Paced" in str(
        result.to_json()["latency_measured_from"]
    )
    # the one 500 ms stall delayed the ~25 tasks meant to start during it: each is charged
    # from its intended start (measured from the actual send, only one would be slow)
    slow = sum(count for ms, count in counts_ms(result.histogram) if ms >= 100)
    assert slow >= 10
    assert result.latency_ms["max"] >= STALL_S * 1000 * 0.9
    # the late tasks ran at once: the schedule (2 s at 50/s) was kept, not stretched
    assert 80 <= result.requests <= 105


def test_max_requests_ends_a_locustfile_run(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        server.url, rate_rps=0.0, users=2, duration_s=30.0, max_requests=50,
        locustfile=write(tmp_path, "shop.py", SHOP),
    )  # fmt: skip
    started = time.monotonic()
    result = run_load(spec)
    assert time.monotonic() - started < 20.0
    # stopped once 50 completed; the requests of the shape's 4 users in flight then still count
    assert 50 <= result.requests <= 54


def test_stop_ends_a_locustfile_run_with_its_partial_result(server: Server, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "steady.py",
        """\
        from locust import HttpUser, constant, task

        class Steady(HttpUser):  # no shape: it runs until duration_s, or until stopped
            wait_time = constant(0.01)

            @task
            def ping(self):
                self.client.get("/ping")
        """,
    )
    handle = start_load(
        LoadSpec(server.url, rate_rps=0.0, users=2, duration_s=60.0, locustfile=path)
    )

    def progressed() -> bool:
        if handle.latest_progress is not None and handle.latest_progress.requests != 0:
            return True
        assert not handle.done(), "the run ended before it was stopped"
        return False

    poll_until("load progress", progressed, 30)
    handle.stop()
    result = handle.wait(timeout=20)
    assert result.interrupted
    assert result.requests > 0
    assert result.requests == sum(r.requests for r in result.by_request)


def test_a_connection_outside_loopback_is_refused_inside_the_user_code(
    server: Server, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "escape.py",
        """\
        from locust import HttpUser, constant, task

        class Escapes(HttpUser):
            wait_time = constant(0.05)

            @task
            def elsewhere(self):
                self.client.get("http://192.0.2.1:80/x", name="elsewhere", timeout=2)
        """,
    )
    result = run_load(LoadSpec(server.url, rate_rps=0.0, users=1, duration_s=1.0, locustfile=path))
    assert result.requests >= 1
    assert result.failures == result.requests
    assert all("refused by the harness: 192.0.2.1" in e for e in result.errors)


def test_a_locustfile_that_fails_to_import_or_has_no_user_is_a_config_error(
    tmp_path: Path,
) -> None:
    broken = write(tmp_path, "broken.py", "import locust\nraise ImportError('no module shop')\n")
    with pytest.raises(
        ConfigError, match=r"broken\.py.*ImportError: no module shop at broken\.py:2"
    ):
        check_locustfile(broken, "--locustfile broken.py")
    empty = write(tmp_path, "empty.py", "from locust import HttpUser\n")
    with pytest.raises(ConfigError, match=r"empty\.py.*no User class"):
        check_locustfile(empty, "--locustfile empty.py")
    with pytest.raises(ConfigError, match="no such file"):
        check_locustfile(str(tmp_path / "absent.py"), "--locustfile absent.py")
    info = check_locustfile(write(tmp_path, "shop.py", SHOP), "--locustfile shop.py")
    assert info.users == (("Reader", 2, "HttpUser"), ("Breaker", 1, "FastHttpUser"))
    assert info.shape == "Short"


EXAMPLE = ROOT / "scenarios" / "load" / "locustfile_moonbase.py"


@pytest.mark.slow
def test_the_shipped_example_runs_unchanged_against_the_reference_api(tmp_path: Path) -> None:
    result = run_cli(
        "load", "--locustfile", str(EXAMPLE), "--baseline", "none",
        "--report-dir", str(tmp_path), timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    load = json.loads((tmp_path / "latest" / "report.json").read_text())["load"]
    assert load["model"] == "closed"
    assert load["failures"] == 0
    assert load["user_errors"] == 0
    rows = {r["name"]: r for r in load["by_request"]}
    assert set(rows) == {
        "GET /api/v0/health/ready", "GET /api/v0/ping", "GET /api/v0/pods",
        "GET /api/v0/pods/[id]", "POST /api/v0/pods (no token)", "GET /api/v0/health/live",
        "GET /api/v0/health",
    }  # fmt: skip
    assert sum(r["requests"] for r in rows.values()) == load["requests"] > 100
    for row in rows.values():
        assert set(row["latency_ms"]) >= {"p50", "p95", "p99", "max"}
        assert row["percentile_bounds_ms"]
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "POST /api/v0/pods (no token)" in summary


@pytest.mark.parametrize("command", ["load", "gate"])
def test_a_bad_locustfile_is_exit_2_before_anything_starts(tmp_path: Path, command: str) -> None:
    bad = write(tmp_path, "bad.py", "from locust import HttpUser\nraise ValueError('typo')\n")
    reports = tmp_path / "reports"
    result = run_cli(command, "--locustfile", bad, "--report-dir", str(reports), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--locustfile {bad!r}" in result.stderr
    assert "ValueError: typo at bad.py:2 in <module>" in result.stderr
    assert not list(reports.glob("*/report.json"))  # no run was opened
