"""The recording HTTP hop (harness.http_recorder) in front of a real reference API: what
goes through it arrives unchanged both ways, and every answered request is recorded."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.http_recorder import LISTENING
from harness.processes import ManagedProcess

pytestmark = pytest.mark.integration


def _hop(upstream: str, out: Path) -> Iterator[str]:
    argv = [sys.executable, "-m", "harness.http_recorder", "--upstream", upstream]
    with ManagedProcess("recording hop", [*argv, "--out", str(out)]) as hop:
        url = hop.wait_for_line(LISTENING + r"(http://\S+)", 30.0).group(1)
        hop.drain()
        yield url


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_requests_pass_through_unchanged_and_each_is_recorded(
    moonbase_target: Any, tmp_path: Path
) -> None:
    out = tmp_path / "traffic.jsonl"
    auth = {"Authorization": f"Bearer {moonbase_target.token}"}
    for url in _hop(moonbase_target.url, out):
        with httpx.Client(base_url=url, headers=auth, timeout=10) as hop:
            created = hop.post("/api/v0/pods", json={"name": "through-the-hop"})
            assert created.status_code == 201, created.text
            pod_id = created.json()["id"]
            direct = httpx.get(f"{moonbase_target.url}/api/v0/pods/{pod_id}", timeout=10)
            via = hop.get(f"/api/v0/pods/{pod_id}", params={"q": "1"})
            assert (via.status_code, via.json()) == (200, direct.json())
            assert via.headers["content-type"] == direct.headers["content-type"]
            missing = hop.get("/api/v0/pods/0123456789abcdef0123456789abcdef")
            assert (missing.status_code, missing.json()["error"]) == (404, "pod_not_found")
            unauthorised = httpx.post(f"{url}/api/v0/jobs", json={"command": ["true"]})
            assert unauthorised.status_code == 401
            big = hop.post("/api/v0/pods", content=b"x" * 2_000_000)  # streamed to the target
            assert big.status_code == 413
    recorded = [(r["method"], r["path"], r["status"]) for r in _lines(out)]
    assert recorded == [
        ("POST", "/api/v0/pods", 201),
        ("GET", f"/api/v0/pods/{pod_id}", 200),
        ("GET", "/api/v0/pods/0123456789abcdef0123456789abcdef", 404),
        ("POST", "/api/v0/jobs", 401),
        ("POST", "/api/v0/pods", 413),
    ]


def test_an_unreachable_target_is_a_502_from_the_hop_recorded_as_the_hop_s(
    free_tcp_port: int, tmp_path: Path
) -> None:
    out = tmp_path / "traffic.jsonl"
    for url in _hop(f"http://127.0.0.1:{free_tcp_port}", out):
        answer = httpx.get(f"{url}/api/v0/ping", timeout=10)
        assert answer.status_code == 502
        assert "upstream unreachable" in answer.json()["error"]
    assert _lines(out)[0] | {"t": 0} == {
        "t": 0, "method": "GET", "path": "/api/v0/ping", "status": 502, "hop": True,
    }  # fmt: skip


def test_a_non_loopback_upstream_is_refused(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "harness.http_recorder", "--upstream", "http://10.1.2.3:80"]
    import subprocess

    done = subprocess.run(  # noqa: S603 - this interpreter, the hop, a refused upstream
        [*argv, "--out", str(tmp_path / "t.jsonl")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "10.1.2.3" in done.stderr
    assert not (tmp_path / "t.jsonl").exists()
