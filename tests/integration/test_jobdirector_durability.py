"""The JobDirector's promises, each against a real server process: no acknowledged job
is lost across kill -9, hung jobs die with their whole group, dead containers come back."""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from target_api.testing import ApiProcess, poll_until, postgres_schema, processes_with_env

pytestmark = [pytest.mark.integration, pytest.mark.jobdirector]

FINAL = {"succeeded", "failed", "timed_out", "cancelled"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiProcess]:
    with ApiProcess(tmp_path / "data") as server:
        yield server


@pytest.fixture
def launch() -> Iterator[Callable[..., ApiProcess]]:
    """Start servers that the test kills or stops itself; any it leaves running (a
    failed assertion before the kill) are killed here, not left to run on."""
    started: list[ApiProcess] = []

    def start(data_dir: Path, env: dict[str, str] | None = None) -> ApiProcess:
        server = ApiProcess(data_dir, env=env or {}).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def is_gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with postgres_schema() as url:
        yield {"MOONBASE_DATABASE_URL": url}


def test_every_acknowledged_job_survives_kill_9_and_finishes(
    tmp_path: Path, database_env: dict[str, str], launch: Callable[..., ApiProcess]
) -> None:
    data_dir = tmp_path / "data"
    accepted: list[str] = []
    in_flight: list[dict[str, object]] = []  # sent, never answered: stored or not, unknown
    stop = threading.Event()
    server = launch(data_dir, database_env)

    def job_body(i: int) -> dict[str, object]:
        return {
            "command": ["sh", "-c", "sleep 0.3"],
            "idempotency_key": f"kill9-{i}",
            "max_attempts": 3,  # an attempt lost to the kill counts; the retry saves it
        }

    def submit_loop(url: str) -> None:
        with httpx.Client(base_url=url, headers=server.headers, timeout=5) as client:
            for i in range(2000):  # bounded; the kill ends it much sooner
                if stop.is_set():
                    return
                try:
                    response = client.post("/api/v0/jobs", json=job_body(i))
                except httpx.HTTPError:
                    in_flight.append(job_body(i))  # the server died mid-request
                    return
                if response.status_code == 202:
                    accepted.append(response.json()["id"])

    submitter = threading.Thread(target=submit_loop, args=(server.url,))
    submitter.start()
    try:
        poll_until("40 jobs acknowledged", lambda: len(accepted) >= 40, 20)
        server.kill()
    finally:
        stop.set()
        submitter.join(10)
    assert len(accepted) >= 40

    with (
        ApiProcess(data_dir, env=database_env) as restarted,
        httpx.Client(base_url=restarted.url) as client,
    ):

        def all_final() -> bool:
            states = [client.get(f"/api/v0/jobs/{j}").json().get("state") for j in accepted]
            return all(s in FINAL for s in states)

        for job_id in accepted:
            assert client.get(f"/api/v0/jobs/{job_id}").status_code == 200, job_id
        poll_until("every acknowledged job final", all_final, 60)
        states = {client.get(f"/api/v0/jobs/{j}").json()["state"] for j in accepted}
        assert states == {"succeeded"}, states
        # The request the kill cut off may have been stored before the server died, and
        # then its process runs now. Resubmitting by its idempotency key finds it (or
        # creates it); once it is final too, no process of this director may be left.
        for body in in_flight:
            replay = client.post("/api/v0/jobs", json=body, headers=restarted.headers)
            assert replay.status_code == 202, replay.text
            accepted.append(replay.json()["id"])
        poll_until("the cut-off job final", all_final, 60)
        owner = (data_dir / "director-id").read_text().strip()
        assert processes_with_env("MOONBASE_RUNTIME_OWNER", owner) == []


def test_hung_job_times_out_within_two_seconds_and_leaves_no_process(api: ApiProcess) -> None:
    # The job forks: a background sleep in the same group, so killing the leader alone
    # would leave it behind.
    body = {"command": ["sh", "-c", "sleep 1000 & sleep 1000"], "timeout_s": 2}
    with httpx.Client(base_url=api.url, headers=api.headers) as client:
        started = time.monotonic()
        job_id = client.post("/api/v0/jobs", json=body).json()["id"]
        poll_until(
            "two processes of the job running",
            lambda: len(processes_with_env("MOONBASE_JOB_ID", job_id)) >= 2,
            5,
        )
        poll_until(
            "job timed out",
            lambda: client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "timed_out",
            2 + 2,
        )
        assert time.monotonic() - started <= 2 + 2
        poll_until(
            "no process of the job left, zombies included",
            lambda: processes_with_env("MOONBASE_JOB_ID", job_id, zombies=True) == [],
            2,
        )
        job = client.get(f"/api/v0/jobs/{job_id}").json()
        assert job["exit_code"] is None
        assert "timed out after 2 s" in job["error"]


def test_job_whose_process_is_killed_is_retried_within_max_attempts(api: ApiProcess) -> None:
    script = 'if [ "$MOONBASE_ATTEMPT" = 1 ]; then kill -9 $$; fi; echo attempt $MOONBASE_ATTEMPT'
    body = {"command": ["sh", "-c", script], "max_attempts": 2}
    with httpx.Client(base_url=api.url, headers=api.headers) as client:
        job_id = client.post("/api/v0/jobs", json=body).json()["id"]
        poll_until(
            "job final",
            lambda: client.get(f"/api/v0/jobs/{job_id}").json()["state"] in FINAL,
            10,
        )
        job = client.get(f"/api/v0/jobs/{job_id}").json()
        assert (job["state"], job["attempts"], job["exit_code"]) == ("succeeded", 2, 0)
        assert client.get(f"/api/v0/jobs/{job_id}/logs").text == "attempt 2\n"


def _pod(client: httpx.Client, command: list[str], policy: str) -> str:
    body = {
        "name": f"p-{uuid.uuid4().hex[:8]}",
        "restart_policy": policy,
        "stack": {"name": "s", "containers": [{"name": "main", "command": command}]},
    }
    response = client.post("/api/v0/pods", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_failed_container_is_restarted_per_policy(api: ApiProcess) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers) as client:
        crashing = _pod(client, ["sh", "-c", "sleep 0.1; exit 1"], "on_failure")
        poll_until(
            "two restarts",
            lambda: client.get(f"/api/v0/pods/{crashing}").json()["restarts"] >= 2,
            5,
        )
        never = _pod(client, ["sh", "-c", "exit 1"], "never")
        poll_until(
            "pod failed", lambda: client.get(f"/api/v0/pods/{never}").json()["state"] == "failed", 5
        )
        clean = _pod(client, ["true"], "on_failure")
        poll_until(
            "pod stopped",
            lambda: client.get(f"/api/v0/pods/{clean}").json()["state"] == "stopped",
            5,
        )
        assert client.get(f"/api/v0/pods/{never}").json()["restarts"] == 0


def test_pods_are_started_again_after_the_api_is_killed(
    tmp_path: Path, launch: Callable[..., ApiProcess]
) -> None:
    data_dir = tmp_path / "data"
    server = launch(data_dir)
    with httpx.Client(base_url=server.url, headers=server.headers) as client:
        pod_id = _pod(client, ["sleep", "60"], "on_failure")
    poll_until("the pod's process", lambda: processes_with_env("MOONBASE_POD_ID", pod_id), 5)
    old = processes_with_env("MOONBASE_POD_ID", pod_id)
    assert len(old) == 1
    server.kill()
    with ApiProcess(data_dir) as restarted, httpx.Client(base_url=restarted.url) as client:
        pod = client.get(f"/api/v0/pods/{pod_id}").json()
        assert pod["state"] == "running"
        new = processes_with_env("MOONBASE_POD_ID", pod_id)
        assert [p.pid for p in new] != [old[0].pid]
        assert len(new) == 1
        assert is_gone(old[0])


ECHO_SERVER = """
import os, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["MOONBASE_PORT"]))); s.listen()
while True:
    c, _ = s.accept(); data = b""
    while chunk := c.recv(65536): data += chunk
    c.sendall(data.upper()); c.close()
"""


def test_loopback_calls_relay_and_an_open_breaker_shows_in_health_and_metrics(
    api: ApiProcess,
) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=30) as client:
        echo = _pod(client, [sys.executable, "-c", ECHO_SERVER], "on_failure")

        def answered() -> bool:
            r = client.post(f"/api/v0/pods/{echo}/containers/main/call", content=b"hi")
            return r.status_code == 200 and r.content == b"HI"

        poll_until("echo answers", answered, 10)
        deaf = _pod(client, ["sleep", "60"], "on_failure")
        codes = [
            client.post(f"/api/v0/pods/{deaf}/containers/main/call", content=b"x").status_code
            for _ in range(3)
        ]
        assert codes[0] == 502
        assert codes[-1] == 503  # 3 tries per call: the 5-failure threshold trips in call 2
        health = client.get("/api/v0/health").json()
        assert health["status"] == "degraded"
        assert health["checks"]["loopback"]["not_closed"] == {f"{deaf}/main": "open"}
        metrics = client.get("/metrics").text
        assert f'moonbase_circuit_breaker_state{{target="{deaf}/main"}} 2.0' in metrics
        assert client.delete(f"/api/v0/pods/{deaf}").status_code == 204
        assert client.get("/api/v0/health").json()["status"] == "ok"


def test_sigterm_stops_running_jobs_and_they_run_again_after_restart(
    tmp_path: Path, launch: Callable[..., ApiProcess]
) -> None:
    data_dir = tmp_path / "data"
    server = launch(data_dir)
    with httpx.Client(base_url=server.url, headers=server.headers) as client:
        job_id = client.post("/api/v0/jobs", json={"command": ["sleep", "1"]}).json()["id"]
        poll_until(
            "running",
            lambda: client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "running",
            5,
        )
    assert server.stop() == 0
    assert processes_with_env("MOONBASE_JOB_ID", job_id) == []
    with ApiProcess(data_dir) as restarted, httpx.Client(base_url=restarted.url) as client:
        poll_until(
            "succeeded",
            lambda: client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "succeeded",
            10,
        )
        assert client.get(f"/api/v0/jobs/{job_id}").json()["attempts"] == 1


def test_jobs_cancelled_while_being_started_leave_no_process(api: ApiProcess) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers) as client:
        ids = []
        for _ in range(12):  # cancel races the dispatcher's claim and start
            job_id = client.post("/api/v0/jobs", json={"command": ["sleep", "30"]}).json()["id"]
            assert client.post(f"/api/v0/jobs/{job_id}/cancel").json()["state"] == "cancelled"
            ids.append(job_id)

        def none_left() -> bool:
            return all(processes_with_env("MOONBASE_JOB_ID", j, zombies=True) == [] for j in ids)

        poll_until("no process of a cancelled job", none_left, 5)
        assert {client.get(f"/api/v0/jobs/{j}").json()["state"] for j in ids} == {"cancelled"}


def test_a_pod_container_killed_from_outside_is_restarted(api: ApiProcess) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers) as client:
        pod_id = _pod(client, ["sleep", "60"], "on_failure")
        (victim,) = processes_with_env("MOONBASE_POD_ID", pod_id)
        victim.kill()  # kill -9: exit 137, a failure under on_failure

        def replaced() -> bool:
            live = processes_with_env("MOONBASE_POD_ID", pod_id)
            return len(live) == 1 and live[0].pid != victim.pid

        poll_until("a new container process", replaced, 5)
        pod = client.get(f"/api/v0/pods/{pod_id}").json()
        assert (pod["state"], pod["restarts"]) == ("running", 1)
        assert pod["containers"][0]["restarts"] == 1
        assert pod["containers"][0]["exit_code"] == 137


# -- several directors on one PostgreSQL -------------------------------------------------

LEASE_S = 3.0  # short for the test; each director heartbeats five times per lease
# Attempt 1 hangs until it is stopped; attempt 2 succeeds at once: the job finishes
# only if another director takes it over.
HANG_ONCE = (
    'if [ "$MOONBASE_ATTEMPT" = 1 ]; then exec sleep 120; fi; echo attempt $MOONBASE_ATTEMPT'
)


@pytest.fixture
def shared_database() -> Iterator[dict[str, str]]:
    with postgres_schema() as url:
        yield {"MOONBASE_DATABASE_URL": url, "MOONBASE_DIRECTOR_LEASE_S": str(LEASE_S)}


def _directors(
    tmp_path: Path, env: dict[str, str], launch: Callable[..., ApiProcess]
) -> dict[str, ApiProcess]:
    """Two APIs on one database, by director id."""
    servers = [launch(tmp_path / name, env) for name in ("a", "b")]
    return {(s.data_dir / "director-id").read_text().strip(): s for s in servers}


def _job(client: httpx.Client, job_id: str) -> dict[str, object]:
    answer = client.get(f"/api/v0/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    job: dict[str, object] = answer.json()
    return job


@pytest.mark.postgres
def test_a_live_director_keeps_its_jobs_and_a_killed_ones_are_taken_over(
    tmp_path: Path, shared_database: dict[str, str], launch: Callable[..., ApiProcess]
) -> None:
    directors = _directors(tmp_path, shared_database, launch)
    any_api = next(iter(directors.values()))
    with httpx.Client(base_url=any_api.url, headers=any_api.headers) as client:
        # Longer than two leases, next to a live second director: nobody takes it.
        steady = client.post("/api/v0/jobs", json={"command": ["sleep", str(2 * LEASE_S)]})
        steady_id = steady.json()["id"]
        poll_until("the steady job final", lambda: _job(client, steady_id)["state"] in FINAL, 20)
        job = _job(client, steady_id)
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job

        hanging = client.post(
            "/api/v0/jobs",
            json={"command": ["sh", "-c", HANG_ONCE], "max_attempts": 2, "timeout_s": 300},
        )
        job_id = hanging.json()["id"]
        poll_until("the job running", lambda: _job(client, job_id)["state"] == "running", 10)
        runner = str(_job(client, job_id)["director"])
        (survivor_id,) = set(directors) - {runner}
        survivor = directors[survivor_id]
        directors[runner].kill()

    with httpx.Client(base_url=survivor.url, headers=survivor.headers) as client:
        poll_until(
            "the job taken over and final",
            lambda: _job(client, job_id)["state"] in FINAL,
            LEASE_S + 15,
        )
        job = _job(client, job_id)
        assert (job["state"], job["attempts"], job["director"]) == ("succeeded", 2, survivor_id)
        logs = client.get(f"/api/v0/jobs/{job_id}/logs").text
        assert f"director {runner} stopped heartbeating" in logs
        assert logs.endswith("attempt 2\n")
        metrics = client.get("/metrics").text
        assert 'moonbase_reconciled_total{kind="adopted_job"} 1.0' in metrics

    # The killed director's hung attempt outlived it; its restart removes it as a stray
    # (the job is no longer its own) and leaves the job as the survivor finished it.
    assert processes_with_env("MOONBASE_JOB_ID", job_id) != []
    with ApiProcess(directors[runner].data_dir, env=shared_database) as restarted:
        poll_until(
            "the hung attempt removed",
            lambda: processes_with_env("MOONBASE_JOB_ID", job_id) == [],
            10,
        )
        with httpx.Client(base_url=restarted.url) as client:
            assert _job(client, job_id)["state"] == "succeeded"
            assert _job(client, job_id)["director"] == survivor_id


@pytest.mark.postgres
def test_a_director_paused_past_its_lease_gives_up_the_job_it_lost_and_writes_nothing(
    tmp_path: Path, shared_database: dict[str, str], launch: Callable[..., ApiProcess]
) -> None:
    directors = _directors(tmp_path, shared_database, launch)
    any_api = next(iter(directors.values()))
    with httpx.Client(base_url=any_api.url, headers=any_api.headers) as client:
        body = {"command": ["sh", "-c", HANG_ONCE], "max_attempts": 2, "timeout_s": 300}
        job_id = client.post("/api/v0/jobs", json=body).json()["id"]
        poll_until("the job running", lambda: _job(client, job_id)["state"] == "running", 10)
        runner_id = str(_job(client, job_id)["director"])
    runner = directors[runner_id]
    (survivor_id,) = set(directors) - {runner_id}
    survivor = directors[survivor_id]
    assert runner.process is not None
    hung = processes_with_env("MOONBASE_JOB_ID", job_id)
    assert len(hung) == 1

    runner.process.send_signal(signal.SIGSTOP)
    try:
        with httpx.Client(base_url=survivor.url, headers=survivor.headers) as client:
            poll_until(
                "the paused director's job taken over and final",
                lambda: _job(client, job_id)["state"] in FINAL,
                LEASE_S + 15,
            )
    finally:
        runner.process.send_signal(signal.SIGCONT)
    # Back, it finds the job is no longer its own and stops its attempt at its next
    # heartbeat; nothing it does afterwards changes the job.
    poll_until("the lost attempt stopped", lambda: is_gone(hung[0]), 10)
    with httpx.Client(base_url=runner.url, headers=runner.headers) as client:
        poll_until(
            "the runner answering again",
            lambda: client.get("/api/v0/health/ready").status_code == 200,
            10,
        )
        job = _job(client, job_id)
        assert (job["state"], job["attempts"], job["director"]) == ("succeeded", 2, survivor_id)
        # counted once the heartbeat's release returns: after the kill, the wait for the
        # process and a sweep of the process table (a moment on a busy machine)
        released = 'moonbase_reconciled_total{kind="released_job"} 1.0'
        poll_until("the release counted", lambda: released in client.get("/metrics").text, 10)
