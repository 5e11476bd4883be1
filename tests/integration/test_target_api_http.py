"""The Moonbase v0 API against a real server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_api.testing import ApiProcess, poll_until, postgres_schema

pytestmark = pytest.mark.integration


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    data_dir = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        with ApiProcess(data_dir) as server:
            yield server
        return
    with (
        postgres_schema() as url,
        ApiProcess(data_dir, env={"MOONBASE_DATABASE_URL": url}) as server,
    ):
        yield server


@pytest.fixture
def client(api: ApiProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=10) as c:
        yield c


def wait_for_job(client: httpx.Client, job_id: str, timeout_s: float = 10) -> dict[str, object]:
    """The job once it is neither queued nor running; a failure after ``timeout_s``."""
    seen: list[dict[str, object]] = []

    def settled() -> bool:
        seen.append(client.get(f"/api/v0/jobs/{job_id}").json())
        return seen[-1]["state"] not in ("queued", "running")

    poll_until(f"job {job_id} settled", settled, timeout_s, last=lambda: seen[-1])
    return seen[-1]


def stack(name: str, seconds: int = 60) -> dict[str, object]:
    return {"name": name, "containers": [{"name": "main", "command": ["sleep", str(seconds)]}]}


def test_ping_and_readiness_answer_ok(client: httpx.Client) -> None:
    assert client.get("/api/v0/ping").json() == {"status": "ok"}
    ready = client.get("/api/v0/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert client.get("/api/v0/health/live").json()["status"] == "ok"


def test_mutating_call_is_401_without_token_and_403_with_a_wrong_one(api: ApiProcess) -> None:
    body = {"command": ["true"]}
    assert httpx.post(f"{api.url}/api/v0/jobs", json=body).status_code == 401
    wrong = httpx.post(f"{api.url}/api/v0/jobs", json=body, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "forbidden"


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    big = {"command": ["echo", "x" * 8000] * 200}  # ~1.6 MB > 1 MiB
    response = client.post("/api/v0/jobs", json=big)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b'{"command": "echo"}',
        b'{"command": []}',
        b'{"command": [""]}',
        b'{"command": ["a\\u0000b"]}',
        b'{"command": ["true"], "timeout_s": -1}',
        b'{"command": ["true"], "timeout_s": 1e400}',
        b'{"command": ["true"], "max_attempts": 99999999999999999999999}',
        b'{"command": ["true"], "extra": 1}',
        b'{"command": ["true"], "env": {"1BAD": "x"}}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_job_bodies_get_a_json_4xx(client: httpx.Client, body: bytes) -> None:
    response = client.post("/api/v0/jobs", content=body)
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}


def test_unknown_ids_and_routes_are_json_404(client: httpx.Client) -> None:
    for path in ("/api/v0/jobs/nope", "/api/v0/pods/%00", "/api/v0/jobs/x/artifacts/..%2f..%2fetc"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
    assert client.delete("/api/v0/ping").status_code == 405


def test_same_stack_again_is_a_no_op_and_a_different_one_is_409(client: httpx.Client) -> None:
    name = f"p-{uuid.uuid4().hex[:8]}"
    pod = client.post("/api/v0/pods", json={"name": name}).json()
    assert pod["state"] == "empty"
    first = client.put(f"/api/v0/pods/{pod['id']}/stack", json=stack("s1"))
    again = client.put(f"/api/v0/pods/{pod['id']}/stack", json=stack("s1"))
    other = client.put(f"/api/v0/pods/{pod['id']}/stack", json=stack("s2"))
    assert (first.status_code, first.json()["changed"]) == (200, True)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    assert other.status_code == 409
    assert other.json()["error"] == "pod_has_stack"
    assert client.get(f"/api/v0/pods/{pod['id']}").json()["stack"]["name"] == "s1"
    assert client.delete(f"/api/v0/pods/{pod['id']}").status_code == 204
    assert client.get(f"/api/v0/pods/{pod['id']}").status_code == 404


def test_two_concurrent_different_attaches_exactly_one_wins(client: httpx.Client) -> None:
    for _ in range(5):
        pod = client.post("/api/v0/pods", json={"name": f"p-{uuid.uuid4().hex[:8]}"}).json()
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        def attach(
            stack_name: str, pod_id: str, barrier: threading.Barrier, results: dict[str, int]
        ) -> None:
            barrier.wait()
            response = client.put(f"/api/v0/pods/{pod_id}/stack", json=stack(stack_name, 5))
            results[stack_name] = response.status_code

        threads = [
            threading.Thread(target=attach, args=(s, pod["id"], barrier, results))
            for s in ("a", "b")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values()) == [200, 409], results
        winner = next(s for s, code in results.items() if code == 200)
        assert client.get(f"/api/v0/pods/{pod['id']}").json()["stack"]["name"] == winner
        client.delete(f"/api/v0/pods/{pod['id']}")


def test_pod_name_taken_is_409(client: httpx.Client) -> None:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/v0/pods", json={"name": name}).status_code == 201
    again = client.post("/api/v0/pods", json={"name": name})
    assert (again.status_code, again.json()["error"]) == (409, "pod_exists")


def test_job_runs_and_keeps_its_logs_and_artifacts(client: httpx.Client) -> None:
    script = 'echo hello; printf data > "$MOONBASE_ARTIFACTS_DIR/out.bin"'
    submitted = client.post("/api/v0/jobs", json={"command": ["sh", "-c", script]})
    assert submitted.status_code == 202
    assert submitted.json()["state"] == "queued"
    job = wait_for_job(client, submitted.json()["id"])
    assert (job["state"], job["exit_code"], job["attempts"]) == ("succeeded", 0, 1)
    assert client.get(f"/api/v0/jobs/{job['id']}/logs").text == "hello\n"
    listing = client.get(f"/api/v0/jobs/{job['id']}/artifacts").json()
    assert listing == [{"name": "out.bin", "size_bytes": 4}]
    assert client.get(f"/api/v0/jobs/{job['id']}/artifacts/out.bin").content == b"data"


def test_same_idempotency_key_returns_the_same_job(client: httpx.Client) -> None:
    body = {"command": ["true"], "idempotency_key": f"k-{uuid.uuid4()}"}
    first = client.post("/api/v0/jobs", json=body).json()
    second = client.post("/api/v0/jobs", json=body)
    assert second.status_code == 202
    assert second.json()["id"] == first["id"]
    changed = client.post("/api/v0/jobs", json={**body, "command": ["false"]})
    assert (changed.status_code, changed.json()["error"]) == (409, "idempotency_key_reused")


def test_failing_job_is_retried_up_to_max_attempts(client: httpx.Client) -> None:
    job_id = client.post(
        "/api/v0/jobs", json={"command": ["sh", "-c", "exit 3"], "max_attempts": 2}
    ).json()["id"]
    job = wait_for_job(client, job_id)
    assert (job["state"], job["attempts"], job["exit_code"]) == ("failed", 2, 3)


def test_unknown_program_fails_the_job_not_the_api(client: httpx.Client) -> None:
    job_id = client.post("/api/v0/jobs", json={"command": ["/no/such/program"]}).json()["id"]
    job = wait_for_job(client, job_id)
    assert job["state"] == "failed"
    assert "could not start" in client.get(f"/api/v0/jobs/{job_id}/logs").text


def test_cancel_stops_a_running_job(client: httpx.Client) -> None:
    job_id = client.post("/api/v0/jobs", json={"command": ["sleep", "30"]}).json()["id"]

    def running() -> bool:
        return client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "running"

    poll_until("the job running", running, 5)
    cancelled = client.post(f"/api/v0/jobs/{job_id}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    assert client.get(f"/api/v0/jobs/{job_id}").json()["state"] == "cancelled"


def test_metrics_and_openapi_are_served(client: httpx.Client) -> None:
    client.get("/api/v0/ping")
    text = client.get("/metrics").text
    assert "moonbase_ping_requests_total" in text
    assert 'moonbase_jobs{state="queued"}' in text
    spec = client.get("/openapi.json").json()
    assert "/api/v0/pods/{pod_id}/stack" in spec["paths"]
    assert "JobIn" in spec["components"]["schemas"]


def test_sigterm_exits_zero(tmp_path: Path) -> None:
    with ApiProcess(tmp_path) as server:  # stopped by __exit__ if an assertion fails first
        assert httpx.get(f"{server.url}/api/v0/ping").status_code == 200
        assert server.stop() == 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Any program name a fuzzer makes up could exist; "true" is the only one it may run.
COMMANDS = JSON | st.lists(st.text(max_size=10), max_size=3).map(lambda rest: ["true", *rest])
FIELDS = {
    "command": COMMANDS,
    "timeout_s": JSON,
    "max_attempts": JSON,
    "idempotency_key": JSON,
    "env": JSON,
    "name": JSON | st.from_regex(r"\Af-[a-z0-9]{1,20}\Z"),
    "restart_policy": JSON,
    "containers": st.lists(st.fixed_dictionaries({"name": JSON, "command": COMMANDS}), max_size=2),
}
BODIES = (
    st.fixed_dictionaries({}, optional=FIELDS).map(lambda d: json.dumps(d).encode())
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
)
TARGETS = st.sampled_from(
    [
        ("POST", "/api/v0/jobs"),
        ("POST", "/api/v0/pods"),
        ("PUT", "/api/v0/pods/{pod}/stack"),
        ("POST", "/api/v0/jobs/{job}/cancel"),
        ("GET", "/api/v0/jobs/{job}/artifacts/{text}"),
        ("GET", "/api/v0/pods/{text}"),
        ("POST", "/api/v0/pods/{pod}/containers/{text}/call"),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=TARGETS, body=BODIES, text=st.text(min_size=1, max_size=30))
def test_no_input_however_malformed_gets_a_5xx(
    api: ApiProcess, target: tuple[str, str], body: bytes, text: str
) -> None:
    method, template = target
    path = template.format(pod="0" * 32, job="f" * 32, text=quote(text, safe=""))
    with httpx.Client(base_url=api.url, headers=api.headers, timeout=10) as c:
        response = c.request(method, path, content=body)
    assert response.status_code < 500, (method, path, body, response.text)


def _raw(api: ApiProcess, payload: bytes, expect_responses: int) -> bytes:
    """Send raw bytes; read until ``expect_responses`` bodies arrived or the peer closed."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        data = b""
        while data.count(b"HTTP/1.1 ") < expect_responses or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


PING = b"GET /api/v0/ping HTTP/1.1\r\nHost: x\r\n\r\n"


def test_ping_keeps_the_connection_alive_over_many_requests(api: ApiProcess) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        for _ in range(20):
            sock.sendall(PING)
            reply = b""
            while not reply.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(4096)
                assert chunk, "the server closed a keep-alive connection"
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"content-type: application/json" in reply


def test_ping_over_http_1_0_answers_and_closes(api: ApiProcess) -> None:
    reply = _raw(api, b"GET /api/v0/ping HTTP/1.0\r\n\r\n", 1)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in reply
    assert reply.endswith(b'{"status":"ok"}')


def test_pipelined_requests_are_answered_in_order(api: ApiProcess) -> None:
    live = b"GET /api/v0/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _raw(api, PING + live + PING, 3)
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in reply.split(b"HTTP/1.1 ")[1:]]
    assert bodies[0] == b'{"status":"ok"}'
    assert b'"event_loop"' in bodies[1]
    assert bodies[2] == b'{"status":"ok"}'


def test_ping_is_counted_and_other_methods_get_405(client: httpx.Client) -> None:
    def pings() -> float:
        text = client.get("/metrics").text
        return float(re.search(r"^moonbase_ping_requests_total (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]

    before = pings()
    for _ in range(5):
        client.get("/api/v0/ping")
    client.get("/api/v0/ping?probe=1")  # the ASGI fast path, counted alike
    assert pings() - before == 6
    refused = client.post("/api/v0/ping")
    assert (refused.status_code, refused.json()["error"]) == (405, "method_not_allowed")
    assert client.head("/api/v0/ping").status_code == 200
