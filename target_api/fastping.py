"""Ping answered inside uvicorn's HTTP protocol, before any ASGI machinery.

uvicorn spends most of a tiny request on the ASGI cycle (a scope, a task, an event,
two sends). For ``GET /api/v0/ping`` — the probe every load balancer and the harness
hammer — this protocol writes a canned response from the parser callback instead.
Everything else, ping with a query string or over HTTP pipelining included, takes the
ordinary path (where :class:`target_api.app.PingFastPath` still answers ping first).

It subclasses uvicorn's httptools protocol (with the lingering close of
:mod:`target_api.lingering`), so it is tied to uvicorn's internals:
``tests/integration/test_target_api_http.py`` pins its behaviour (keep-alive, HTTP/1.0,
pipelining, counters) against the real server.
"""

from __future__ import annotations

from target_api.lingering import LingeringProtocol

__all__ = ["CLOSE_RESPONSE", "KEEP_ALIVE_RESPONSE", "ping_protocol"]

PING_URL = b"/api/v0/ping"
_BODY = b'{"status":"ok"}'
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n"
KEEP_ALIVE_RESPONSE = _HEAD + b"\r\n" + _BODY
CLOSE_RESPONSE = _HEAD + b"connection: close\r\n\r\n" + _BODY


def ping_protocol(counter: list[int]) -> type[LingeringProtocol]:
    """A protocol class that answers ping itself and counts into ``counter[0]``."""

    class PingProtocol(LingeringProtocol):
        _answered = False

        def on_message_begin(self) -> None:
            self._answered = False
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            idle = self.cycle is None or self.cycle.response_complete
            if (
                self.url != PING_URL
                or self.parser.get_method() != b"GET"
                or not idle
                or self.pipeline
                or self.parser.should_upgrade()
            ):
                super().on_headers_complete()
                return
            self._answered = True
            counter[0] += 1
            keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
            if keep_alive:
                self.transport.write(KEEP_ALIVE_RESPONSE)
                self.on_response_complete()  # re-arms keep-alive, counts the request
            else:
                self.transport.write(CLOSE_RESPONSE)
                self.transport.close()  # asyncio flushes what was written first

        def on_body(self, body: bytes) -> None:
            if not self._answered:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._answered:
                super().on_message_complete()
            else:
                self.receiving_body = False

    return PingProtocol
