"""JobDirector reliability scenarios (``reliable-test-runner JobDirector``): the seed's
failures (double stack initialisation, hanging processes, loopback calls that time out)
as checks that must hold every time, against one shared server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.jobdirector

FINAL = {"succeeded", "failed", "timed_out", "cancelled"}


@pytest.fixture
def client(target_url: str, api_token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=target_url, headers=headers, timeout=10) as c:
        yield c


def poll(what: str, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s (last: {value})")
        time.sleep(0.05)


def stack(name: str) -> dict[str, Any]:
    return {"name": name, "containers": [{"name": "main", "command": ["sleep", "30"]}]}


@pytest.fixture
def pod(client: httpx.Client) -> Iterator[str]:
    created = client.post("/api/v0/pods", json={"name": f"jd-{uuid.uuid4().hex[:12]}"})
    assert created.status_code == 201, created.text
    pod_id = str(created.json()["id"])
    yield pod_id
    client.delete(f"/api/v0/pods/{pod_id}")


def job(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v0/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    return dict(
        poll(
            f"job {job_id} final",
            lambda: client.get(f"/api/v0/jobs/{job_id}").json(),
            lambda j: j["state"] in FINAL,
            body.get("timeout_s", 5) + 3,
        )
    )


def test_attaching_the_same_stack_twice_is_not_an_error(client: httpx.Client, pod: str) -> None:
    first = client.put(f"/api/v0/pods/{pod}/stack", json=stack("s1"))
    second = client.put(f"/api/v0/pods/{pod}/stack", json=stack("s1"))
    assert (first.status_code, second.status_code) == (200, 200)
    assert client.get(f"/api/v0/pods/{pod}").json()["state"] in ("starting", "running")


def test_a_pod_created_with_its_stack_takes_the_same_stack_again(client: httpx.Client) -> None:
    body = {"name": f"jd-{uuid.uuid4().hex[:12]}", "stack": stack("s1")}
    pod_id = client.post("/api/v0/pods", json=body).json()["id"]
    try:
        again = client.put(f"/api/v0/pods/{pod_id}/stack", json=stack("s1"))
        assert again.status_code == 200, again.text  # the seed said "Pod already has a stack"
    finally:
        client.delete(f"/api/v0/pods/{pod_id}")


def test_a_different_stack_is_409_pod_has_stack(client: httpx.Client, pod: str) -> None:
    client.put(f"/api/v0/pods/{pod}/stack", json=stack("s1"))
    other = client.put(f"/api/v0/pods/{pod}/stack", json=stack("s2"))
    assert (other.status_code, other.json()["error"]) == (409, "pod_has_stack")


def test_concurrent_attaches_exactly_one_wins(client: httpx.Client, pod: str) -> None:
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def attach(name: str) -> None:
        barrier.wait()
        codes[name] = client.put(f"/api/v0/pods/{pod}/stack", json=stack(name)).status_code

    threads = [threading.Thread(target=attach, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [200, 409], codes


def test_a_job_runs_to_success_with_its_output(client: httpx.Client) -> None:
    done = job(client, command=["sh", "-c", "echo hi"], timeout_s=5)
    assert (done["state"], done["exit_code"]) == ("succeeded", 0)
    assert client.get(f"/api/v0/jobs/{done['id']}/logs").text == "hi\n"


def test_a_job_s_artifacts_are_listed_and_served(client: httpx.Client) -> None:
    script = 'cd "$MOONBASE_ARTIFACTS_DIR" && printf result > r.txt && mkdir d && printf 1 > d/n'
    done = job(client, command=["sh", "-c", script], timeout_s=5)
    assert done["state"] == "succeeded", done
    listed = client.get(f"/api/v0/jobs/{done['id']}/artifacts").json()
    assert listed == [{"name": "d/n", "size_bytes": 1}, {"name": "r.txt", "size_bytes": 6}]
    assert client.get(f"/api/v0/jobs/{done['id']}/artifacts/r.txt").content == b"result"
    outside = client.get(f"/api/v0/jobs/{done['id']}/artifacts/missing.txt")
    assert (outside.status_code, outside.json()["error"]) == (404, "artifact_not_found")


def test_a_hung_job_is_timed_out_on_time(client: httpx.Client) -> None:
    started = time.monotonic()
    done = job(client, command=["sleep", "1000"], timeout_s=1)
    assert done["state"] == "timed_out"
    assert time.monotonic() - started < 1 + 2


def test_a_job_killed_mid_attempt_is_retried(client: httpx.Client) -> None:
    script = '[ "$MOONBASE_ATTEMPT" = 1 ] && kill -9 $$; exit 0'
    done = job(client, command=["sh", "-c", script], max_attempts=2, timeout_s=5)
    assert (done["state"], done["attempts"]) == ("succeeded", 2)


def test_a_cancelled_job_stays_cancelled(client: httpx.Client) -> None:
    job_id = client.post("/api/v0/jobs", json={"command": ["sleep", "30"]}).json()["id"]
    assert client.post(f"/api/v0/jobs/{job_id}/cancel").json()["state"] == "cancelled"
    assert client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "cancelled"


def test_a_crashing_container_is_restarted(client: httpx.Client) -> None:
    body = {
        "name": f"jd-{uuid.uuid4().hex[:12]}",
        "restart_policy": "on_failure",
        "stack": {"name": "s", "containers": [{"name": "main", "command": ["sh", "-c", "exit 1"]}]},
    }
    pod_id = client.post("/api/v0/pods", json=body).json()["id"]
    try:
        poll(
            "a restart",
            lambda: client.get(f"/api/v0/pods/{pod_id}").json()["restarts"],
            lambda n: n >= 1,
            3,
        )
    finally:
        client.delete(f"/api/v0/pods/{pod_id}")


def test_calls_to_a_deaf_container_fail_fast_once_the_breaker_opens(
    client: httpx.Client,
) -> None:
    body = {"name": f"jd-{uuid.uuid4().hex[:12]}", "stack": stack("deaf")}
    pod_id = client.post("/api/v0/pods", json=body).json()["id"]
    try:
        url = f"/api/v0/pods/{pod_id}/containers/main/call"
        first = client.post(url, content=b"hello")
        assert (first.status_code, first.json()["error"]) == (502, "container_unreachable")
        client.post(url, content=b"hello")
        started = time.monotonic()
        refused = client.post(url, content=b"hello")
        assert (refused.status_code, refused.json()["error"]) == (503, "circuit_open")
        assert time.monotonic() - started < 0.5  # refused without waiting on the peer
        loopback = client.get("/api/v0/health").json()["checks"]["loopback"]
        assert loopback["not_closed"][f"{pod_id}/main"] == "open"
    finally:
        client.delete(f"/api/v0/pods/{pod_id}")
