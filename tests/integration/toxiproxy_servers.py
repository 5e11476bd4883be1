"""Toxiproxy servers of each kind, and small upstreams, for the conformance suite.

Servers come from the harness's own provisioning (harness/toxiproxy/provision.py), so the
code that starts a real server is the code under test: "real" is TOXIPROXY_URL, else
``toxiproxy-server`` on PATH (built by ``./moonbase test``); "docker" is a container
from a Toxiproxy image on the Docker engine (imported by ``./moonbase test``);
"embedded" is the in-process default. Without one, a test skips on a laptop and fails
in CI. Upstreams are plain threaded TCP servers on 127.0.0.1 port 0, closed by their
fixture.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from harness.errors import ToxiproxyUnavailable
from harness.netguard import ensure_loopback_url
from harness.plugin import require_component
from harness.toxiproxy.embedded import EmbeddedToxiproxy
from harness.toxiproxy.provision import (
    ToxiproxyServer,
    find_toxiproxy_binary,
    start_docker_toxiproxy,
    start_real_toxiproxy,
    toxiproxy_version,
)
from target_api.testing import poll_until

__all__ = [
    "KINDS",
    "START_TIMEOUT_S",
    "BlobUpstream",
    "EchoUpstream",
    "HttpUpstream",
    "RecordingUpstream",
    "ToxiproxyServer",
    "clear_proxies",
    "free_port",
    "running_toxiproxy",
]

START_TIMEOUT_S = 15.0
KINDS = ("real", "docker", "embedded")


def free_port() -> int:
    """A port that was free a moment ago (the real server cannot report a port-0 choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clear_proxies(server: ToxiproxyServer) -> None:
    """Delete every proxy, so each test starts from an empty server."""
    for name in requests.get(server.url + "/proxies", timeout=5).json():
        requests.delete(f"{server.url}/proxies/{name}", timeout=5)


def _real() -> ToxiproxyServer:
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        url = ensure_loopback_url(url, where="TOXIPROXY_URL", allow_non_loopback=False)
        poll_until(
            f"Toxiproxy answering at TOXIPROXY_URL={url}",
            lambda: toxiproxy_version(url) is not None,
            START_TIMEOUT_S,
            interval_s=0.02,
        )
        return ToxiproxyServer(url, "url", f"TOXIPROXY_URL {url}")
    require_component(
        "Toxiproxy server",
        find_toxiproxy_binary() is not None,
        " (set TOXIPROXY_URL or put toxiproxy-server on PATH; ./moonbase test builds it)",
    )
    return start_real_toxiproxy()


def _docker() -> ToxiproxyServer:
    try:
        server = start_docker_toxiproxy()
    except ToxiproxyUnavailable as exc:
        pytest.fail(str(exc))
    require_component(
        "Toxiproxy Docker image",
        server is not None,
        " (a Docker engine with moonbase/toxiproxy, which ./moonbase test imports)",
    )
    assert server is not None
    return server


def _embedded() -> ToxiproxyServer:
    embedded = EmbeddedToxiproxy(host="127.0.0.1", port=0).start()
    return ToxiproxyServer(embedded.url, "embedded", "in-process", embedded)


@contextlib.contextmanager
def running_toxiproxy(kind: str) -> Iterator[ToxiproxyServer]:
    """A Toxiproxy server of ``kind`` (one of KINDS), stopped afterwards."""
    start = {"real": _real, "docker": _docker, "embedded": _embedded}[kind]
    with start() as server:
        yield server


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
