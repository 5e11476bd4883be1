"""A real HTTP/1.1 server on a free loopback port, in a thread of the test process, that
answers what the test says and counts what it is sent."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["CountingServer", "loopback_http"]


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0  # GETs answered so far


@contextlib.contextmanager
def loopback_http(status_for: Callable[[str], int]) -> Iterator[tuple[str, CountingServer]]:
    """``(base URL, server)``; every GET is answered ``status_for(path)`` with a 2-byte
    body, on a kept-alive connection; the server is shut down afterwards."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.requests += 1
            self.send_response(status_for(self.path))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    server = CountingServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
