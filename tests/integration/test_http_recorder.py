"""The recording HTTP hop (harness.http_recorder) in front of a real reference API: what
goes through it arrives unchanged both ways, and every answered request is recorded."""

from __future__ import annotations

import json
import os
import queue
import socket
import socketserver
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.http_recorder import LISTENING
from harness.processes import ManagedProcess

pytestmark = pytest.mark.integration


def _hop(upstream: str, out: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    argv = [sys.executable, "-m", "harness.http_recorder", "--upstream", upstream]
    with ManagedProcess("recording hop", [*argv, "--out", str(out)], env=env) as hop:
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
        "t": 0, "method": "GET", "path": "/api/v0/ping", "raw": "/api/v0/ping", "status": 502,
        "hop": True,
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


class _Upstream(socketserver.ThreadingTCPServer):
    """A raw HTTP/1.1 upstream: it keeps every request's bytes exactly as they arrived
    (``<EOF>`` where the connection ended inside the body) and answers with headers the hop
    must pass on untouched, a cookie, a Location built from Host, and one it must drop."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.seen: queue.Queue[bytes] = queue.Queue()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _UpstreamHandler(socketserver.StreamRequestHandler):
    server: _Upstream

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline()
            if not line:
                return
            head += line
        fields = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:] if h)
        )
        body, complete = b"", True
        if b"chunked" in fields.get(b"transfer-encoding", b""):
            while True:
                size_line = self.rfile.readline()
                body += size_line
                if not size_line:
                    complete = False
                    break
                size = int(size_line.split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)
                body += chunk
                if len(chunk) < size + 2:
                    complete = False
                    break
                if size == 0:
                    break
        elif fields.get(b"content-length"):
            body = self.rfile.read(int(fields[b"content-length"]))
        self.server.seen.put(head + body + (b"" if complete else b"<EOF>"))
        if not complete:
            return
        host = fields.get(b"host", b"-")
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nServer: upstream\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
            b"Set-Cookie: session=1\r\nLocation: http://" + host + b"/next\r\n"
            b"Connection: close, X-Hop-Only\r\nX-Hop-Only: drop\r\nContent-Length: 2\r\n\r\nok"
        )


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    import threading

    server = _Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _exchange(url: str, raw: bytes, *, answer: bool = True) -> bytes:
    """Send ``raw`` bytes to the hop and read its whole answer (``Connection: close``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(raw)
        if not answer:
            return b""
        got = b""
        while chunk := conn.recv(65536):
            got += chunk
        return got


def _head(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    pairs = [line.split(b":", 1) for line in lines[1:]]
    return lines[0], [(k.strip().lower(), v.strip()) for k, v in pairs]


def test_the_hop_forwards_the_request_as_sent_and_the_answer_as_given(
    upstream: _Upstream, tmp_path: Path, free_tcp_port: int
) -> None:
    out = tmp_path / "traffic.jsonl"
    # a proxy in the environment is not used: the hop talks to its upstream directly
    env = dict(os.environ, HTTP_PROXY=f"http://127.0.0.1:{free_tcp_port}", ALL_PROXY="")
    for url in _hop(upstream.url, out, env):
        hop_host = url.removeprefix("http://").encode()
        first = _exchange(
            url,
            b"GET /a/../b%2Fc?q=1 HTTP/1.1\r\nHost: " + hop_host + b"\r\nX-Custom: 1\r\n"
            b"Connection: close, X-Secret\r\nX-Secret: s\r\nCookie: c=1\r\n\r\n",
        )
        line, headers = _head(upstream.seen.get(timeout=10))
        assert line == b"GET /a/../b%2Fc?q=1 HTTP/1.1"  # no dot segment or escape undone
        assert sorted(headers) == sorted(
            [(b"host", hop_host), (b"x-custom", b"1"), (b"cookie", b"c=1")]
        )  # nothing added, the hop-by-hop ones and those Connection names dropped
        status, answer = _head(first)
        assert status == b"HTTP/1.1 200 OK"
        names = [k for k, _ in answer]
        assert names.count(b"server") == names.count(b"date") == 1
        assert (b"server", b"upstream") in answer
        assert (b"location", b"http://" + hop_host + b"/next") in answer  # back to the hop
        assert (b"set-cookie", b"session=1") in answer
        assert b"x-hop-only" not in names
        assert first.endswith(b"\r\n\r\nok")
        _exchange(url, b"GET /again HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        _, headers = _head(upstream.seen.get(timeout=10))
        assert headers == [(b"host", b"h")]  # the cookie set before is not kept by the hop
    recorded = [(r["method"], r["path"], r["raw"], r["status"]) for r in _lines(out)]
    assert recorded == [
        ("GET", "/a/../b/c", "/a/../b%2Fc", 200),
        ("GET", "/again", "/again", 200),
    ]


def test_a_chunked_upload_stays_chunked_and_one_broken_off_is_not_delivered_whole(
    upstream: _Upstream, tmp_path: Path
) -> None:
    out = tmp_path / "traffic.jsonl"
    chunked = b"POST /up HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
    chunked += b"Transfer-Encoding: chunked\r\n\r\n"
    for url in _hop(upstream.url, out):
        whole = _exchange(url, chunked + b"5\r\nhello\r\n0\r\n\r\n")
        assert whole.endswith(b"ok")
        seen = upstream.seen.get(timeout=10)
        assert _head(seen)[1] == [(b"host", b"h"), (b"transfer-encoding", b"chunked")]
        assert seen.endswith(b"5\r\nhello\r\n0\r\n\r\n")
        _exchange(url, chunked + b"5\r\nhello\r\n", answer=False)  # and the client is gone
        broken = upstream.seen.get(timeout=10)
        assert broken.endswith(b"<EOF>")
        assert b"0\r\n\r\n" not in broken.split(b"\r\n\r\n", 1)[1]
    assert [(r["path"], r["status"]) for r in _lines(out)] == [("/up", 200)]
