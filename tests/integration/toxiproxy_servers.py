"""Toxiproxy servers (real and embedded) and small upstreams for the conformance suite.

The real server comes from TOXIPROXY_URL, else ``toxiproxy-server`` on PATH, else the
binary built at /tmp/gobin/server. Without one, a test skips on a laptop and fails in CI.
Upstreams are plain threaded TCP servers on 127.0.0.1 port 0, closed by their fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from harness.faults.embedded import EmbeddedToxiproxy
from harness.plugin import require_component

__all__ = [
    "BlobUpstream",
    "EchoUpstream",
    "HttpUpstream",
    "RecordingUpstream",
    "ToxiproxyServer",
    "find_real_toxiproxy",
    "free_port",
    "require_component",
    "running_embedded",
    "running_real",
    "wait_for",
]

START_TIMEOUT_S = 15.0
LOCAL_BUILD = Path("/tmp/gobin/server")


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll ``check`` until it holds, failing with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A port that was free a moment ago (the real server cannot report a port-0 choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class ToxiproxyServer:
    """A running Toxiproxy API: which kind, and where."""

    kind: str  # "real" or "embedded"
    host: str
    port: int

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"http://{self.host}:{self.port}"

    def clear(self) -> None:
        """Delete every proxy, so each test starts from an empty server."""
        for name in requests.get(self.url + "/proxies", timeout=5).json():
            requests.delete(f"{self.url}/proxies/{name}", timeout=5)


def find_real_toxiproxy() -> tuple[str | None, str | None]:
    """``(url, None)`` from TOXIPROXY_URL, ``(None, binary)`` to start, or ``(None, None)``."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        return url, None
    binary = shutil.which("toxiproxy-server")
    if binary is None and LOCAL_BUILD.is_file() and os.access(LOCAL_BUILD, os.X_OK):
        binary = str(LOCAL_BUILD)
    return None, binary


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/version", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def running_real() -> Iterator[ToxiproxyServer | None]:
    """The real server (started here when it is a binary), or ``None`` when there is none."""
    url, binary = find_real_toxiproxy()
    if url is not None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 8474
        if host not in ("127.0.0.1", "localhost", "::1"):
            pytest.fail(f"TOXIPROXY_URL={url!r} is not on loopback; tests only talk to 127.0.0.1")
        wait_for(lambda: _answers(url), f"Toxiproxy at TOXIPROXY_URL={url}")
        yield ToxiproxyServer("real", host, port)
        return
    if binary is None:
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = ToxiproxyServer("real", "127.0.0.1", port)

        def up() -> bool:
            if process.poll() is not None:
                pytest.fail(f"{binary} exited with {process.returncode} on port {port}")
            return _answers(server.url)

        wait_for(up, f"{binary} on port {port}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def running_embedded() -> Iterator[ToxiproxyServer]:
    """The embedded server on a port-0 API."""
    with EmbeddedToxiproxy(host="127.0.0.1", port=0) as embedded:
        yield ToxiproxyServer("embedded", "127.0.0.1", embedded.port)


class _Upstream:
    """A threaded TCP server on 127.0.0.1:0 that runs ``handle`` per connection."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)  # lets the accept loop notice close()
        self.port = int(self._sock.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)  # bounds every handler thread
            self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self.handle(conn)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._closed.set()
        self._sock.close()
        for conn in self._clients:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(5)


class EchoUpstream(_Upstream):
    """Sends back every byte it receives."""

    def handle(self, conn: socket.socket) -> None:
        """Echo until EOF."""
        while data := conn.recv(65536):
            conn.sendall(data)


class RecordingUpstream(_Upstream):
    """Keeps every byte it receives; ``ended`` once a connection reached EOF."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.ended = threading.Event()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        """Record until EOF (or reset)."""
        try:
            while data := conn.recv(65536):
                self.received += data
        finally:
            self.ended.set()


class _OkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use proxies

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        return None


class HttpUpstream:
    """A keep-alive HTTP server on 127.0.0.1:0 answering ``ok`` to every GET."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class BlobUpstream(_Upstream):
    """On connect, sends ``size`` bytes of a known pattern, then closes."""

    def __init__(self, size: int) -> None:
        self.payload = bytes(i % 251 for i in range(size))  # 251 is prime: no period aligns
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        """Send the payload, then close."""
        conn.sendall(self.payload)
