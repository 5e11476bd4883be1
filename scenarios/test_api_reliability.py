"""Moonbase v0 API reliability scenarios (``reliable-test-runner API``).

Each runs against one shared server (fixtures ``target_url``/``api_token`` from the
harness plugin), many times and in parallel: every name and key is unique per run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.api


@pytest.fixture
def client(target_url: str, api_token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=target_url, headers=headers, timeout=10) as c:
        yield c


def test_ping_answers_ok_every_time(client: httpx.Client) -> None:
    for _ in range(50):
        response = client.get("/api/v0/ping")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ping_answers_a_concurrent_burst(client: httpx.Client) -> None:
    def ping(_: int) -> int:
        return client.get("/api/v0/ping").status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(ping, range(64)))
    assert codes == [200] * 64


def test_health_ready_and_live_report_their_checks(client: httpx.Client) -> None:
    ready = client.get("/api/v0/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] in ("ok", "degraded")
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert client.get("/api/v0/health/live").json()["status"] == "ok"
    assert client.get("/api/v0/health").status_code == 200


def test_mutating_calls_need_the_token(target_url: str) -> None:
    body = {"command": ["true"]}
    missing = httpx.post(f"{target_url}/api/v0/jobs", json=body)
    wrong = httpx.post(
        f"{target_url}/api/v0/jobs", json=body, headers={"Authorization": "Bearer wrong"}
    )
    assert (missing.status_code, missing.json()["error"]) == (401, "unauthorized")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")


def test_an_oversized_body_is_413(client: httpx.Client) -> None:
    response = client.post("/api/v0/pods", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v0/jobs", b"{"),
        ("POST", "/api/v0/jobs", b'{"command": "sh"}'),
        ("POST", "/api/v0/jobs", b'{"command": ["a\\u0000"]}'),
        ("POST", "/api/v0/jobs", b'{"command": ["true"], "timeout_s": "soon"}'),
        ("POST", "/api/v0/pods", b'{"name": ""}'),
        ("POST", "/api/v0/pods", b'{"name": "ok", "stack": {"containers": []}}'),
        ("PUT", "/api/v0/pods/00000000000000000000000000000000/stack", b"[]"),
        ("GET", "/api/v0/jobs/%00", b""),
        ("GET", "/api/v0/pods/" + "9" * 5000, b""),
        ("POST", "/api/v0/jobs/nope/cancel", b""),
    ],
)
def test_bad_input_gets_a_json_4xx_never_a_5xx(
    client: httpx.Client, method: str, path: str, body: bytes
) -> None:
    response = client.request(method, path, content=body)
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}


def test_idempotency_key_returns_the_same_job(client: httpx.Client) -> None:
    body = {"command": ["true"], "idempotency_key": f"scenario-{uuid.uuid4()}"}
    first = client.post("/api/v0/jobs", json=body)
    second = client.post("/api/v0/jobs", json=body)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"]


def test_pod_lifecycle_create_get_delete(client: httpx.Client) -> None:
    created = client.post("/api/v0/pods", json={"name": f"api-{uuid.uuid4().hex[:12]}"})
    assert created.status_code == 201
    pod = created.json()
    assert {"id", "name", "state", "stack"} <= set(pod)
    assert client.get(f"/api/v0/pods/{pod['id']}").json()["name"] == pod["name"]
    assert pod["id"] in {p["id"] for p in client.get("/api/v0/pods").json()}
    assert client.delete(f"/api/v0/pods/{pod['id']}").status_code == 204
    assert client.get(f"/api/v0/pods/{pod['id']}").status_code == 404


def test_metrics_and_openapi_are_served(client: httpx.Client) -> None:
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "moonbase_http_requests_total" in metrics.text
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")
