"""The director on the docker runtime (MOONBASE_RUNTIME=docker), against a real engine:
jobs, timeouts, pods, and nothing left behind. Skips without an engine; fails in CI."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.plugin import require_component
from target_api.testing import ApiProcess, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.jobdirector]

FINAL = {"succeeded", "failed", "timed_out", "cancelled"}


def engine_answers() -> bool:
    """GET /_ping on the engine's unix socket, done by hand: the SDK leaks its socket
    when the connection is refused, which filterwarnings=error turns into a failure
    of whatever test runs next."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # a TCP engine: the SDK's own ping decides
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        try:
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(64)
        except OSError:
            return False


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    import docker

    require_component("a Docker engine (.ci/setup-docker.sh)", engine_answers())
    client = docker.from_env(timeout=10)
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="module")
def api(engine: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    data_dir = tmp_path_factory.mktemp("docker-api")
    with ApiProcess(data_dir, env={"MOONBASE_RUNTIME": "docker"}, startup_timeout_s=120) as server:
        yield server


def owned_containers(engine: object, data_dir: Path) -> list[object]:
    owner = (data_dir / "director-id").read_text().strip()
    return list(engine.containers.list(all=True, filters={"label": f"moonbase.owner={owner}"}))  # type: ignore[attr-defined]


def wait_job(client: httpx.Client, job_id: str, timeout_s: float) -> dict[str, object]:
    """The job once it is final; a failure, naming it as last seen, after ``timeout_s``."""
    seen: list[dict[str, object]] = []

    def final() -> bool:
        seen.append(dict(client.get(f"/api/v0/jobs/{job_id}").json()))
        return seen[-1]["state"] in FINAL

    poll_until(f"job {job_id} final", final, timeout_s, 0.1, last=lambda: seen[-1])
    return seen[-1]


def test_director_runs_a_job_in_a_container_with_logs_and_artifacts(api: ApiProcess) -> None:
    script = 'echo from-docker; printf x > "$MOONBASE_ARTIFACTS_DIR/a"'
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=30) as client:
        assert (
            client.get("/api/v0/health/ready").json()["checks"]["director"]["runtime"] == "docker"
        )
        job_id = client.post("/api/v0/jobs", json={"command": ["sh", "-c", script]}).json()["id"]
        job = wait_job(client, job_id, 60)
        assert (job["state"], job["exit_code"]) == ("succeeded", 0)
        assert "from-docker" in client.get(f"/api/v0/jobs/{job_id}/logs").text
        assert client.get(f"/api/v0/jobs/{job_id}/artifacts/a").content == b"x"


def test_hung_container_job_times_out_and_its_container_is_removed(
    api: ApiProcess, engine: object
) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=30) as client:
        body = {"command": ["sh", "-c", "sleep 1000 & sleep 1000"], "timeout_s": 2}
        started = time.monotonic()
        job_id = client.post("/api/v0/jobs", json=body).json()["id"]
        job = wait_job(client, job_id, 30)
        assert job["state"] == "timed_out"
        # start-up of a container is part of the attempt; the promise is timeout + 2 s
        # once it runs, so allow the engine's start time on top.
        assert time.monotonic() - started < 2 + 2 + 5
        pods = [c.labels.get("moonbase.pod") for c in owned_containers(engine, api.data_dir)]  # type: ignore[attr-defined]
        assert f"job-{job_id}" not in pods


def test_pod_stack_runs_as_containers_and_delete_removes_them(
    api: ApiProcess, engine: object
) -> None:
    stack = {"name": "s", "containers": [{"name": "main", "command": ["sleep", "60"]}]}
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=30) as client:
        pod = client.post(
            "/api/v0/pods", json={"name": f"d-{uuid.uuid4().hex[:8]}", "stack": stack}
        )
        assert pod.status_code == 201, pod.text
        pod_id = pod.json()["id"]
        assert pod.json()["state"] == "running"
        labels = [c.labels.get("moonbase.pod") for c in owned_containers(engine, api.data_dir)]  # type: ignore[attr-defined]
        assert pod_id in labels
        assert client.put(f"/api/v0/pods/{pod_id}/stack", json=stack).status_code == 200
        assert client.delete(f"/api/v0/pods/{pod_id}").status_code == 204
        labels = [c.labels.get("moonbase.pod") for c in owned_containers(engine, api.data_dir)]  # type: ignore[attr-defined]
        assert pod_id not in labels
