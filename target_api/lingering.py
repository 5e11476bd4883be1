"""Lingering close: read what the client is still sending before closing, as nginx does.

When the server closes a connection whose request body it has not read to the end (a
413 answered from the Content-Length alone, an error before the body was read, a client
that asked for ``Connection: close``), the kernel answers the unread bytes with a TCP
RST. A client that sends its whole body before reading the answer, as ``http.client``
and ``requests`` do, then gets ``Connection reset by peer`` or ``Broken pipe`` instead
of the response that was already on its way.

So instead of closing at once, the connection half-closes (the response is complete,
the client reads it and then the end of the stream), reads and discards what still
arrives, and closes when the client does, or at the first of these bounds: no data for
:data:`LINGER_IDLE_S`, :data:`LINGER_TIME_S` in all, or :data:`LINGER_MAX_BYTES`
discarded. nginx's ``lingering_close on`` with ``lingering_timeout 5s`` and
``lingering_time 30s`` (its defaults) is the model; the byte bound is ours, so that a
client cannot keep a connection busy by sending fast forever.

It hooks into uvicorn's httptools protocol by handing it a transport whose ``close``
lingers; ``tests/integration/test_target_api_bad_input.py`` pins the behaviour against
the real server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["LINGER_IDLE_S", "LINGER_MAX_BYTES", "LINGER_TIME_S", "LingeringProtocol"]

LINGER_IDLE_S = 5.0  # nginx lingering_timeout
LINGER_TIME_S = 30.0  # nginx lingering_time
# a 20 MB upload refused with 413 still gets its answer; past this, the client is cut off
LINGER_MAX_BYTES = 64 * 1024 * 1024


class _LingeringTransport(asyncio.Transport):
    """The connection's transport as uvicorn sees it: ``close`` lingers when the request
    body is still arriving; everything else goes straight to the real transport."""

    def __init__(self, real: asyncio.Transport, protocol: LingeringProtocol) -> None:
        super().__init__(extra=None)
        self._real = real
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_lingering()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._real.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._real.write(data)

    def pause_reading(self) -> None:
        if not self._protocol.lingering:
            self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def is_reading(self) -> bool:
        return self._real.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._real.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._real.get_protocol()

    def abort(self) -> None:
        self._real.abort()

    def can_write_eof(self) -> bool:
        return self._real.can_write_eof()

    def write_eof(self) -> None:
        self._real.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)


class LingeringProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a lingering close (see the module docstring)."""

    lingering = False
    _real: asyncio.Transport | None = None
    receiving_body = False  # a request's headers arrived, its body has not ended yet
    _no_linger = False  # the server is shutting down: close at once
    _discarded = 0
    _idle_timer: asyncio.TimerHandle | None = None
    _total_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # uvloop's TCPTransport has asyncio.Transport's methods without subclassing it
        self._real = transport
        super().connection_made(_LingeringTransport(transport, self))

    def on_message_begin(self) -> None:
        self.receiving_body = True
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self.receiving_body = False
        super().on_message_complete()

    def _body_pending(self) -> bool:
        """True while a request announced a body that has not fully arrived."""
        if not self.receiving_body:
            return False
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return True
        return False

    def close_lingering(self) -> None:
        """What ``transport.close()`` does here: linger while the body is still coming."""
        real = self._real
        if real is None or self.lingering or real.is_closing():
            return
        if self._no_linger or not self._body_pending() or not real.can_write_eof():
            real.close()
            return
        self.lingering = True
        real.write_eof()  # the response is complete: the client reads it, then EOF
        real.resume_reading()
        self._idle_timer = self.loop.call_later(LINGER_IDLE_S, self._stop_lingering)
        self._total_timer = self.loop.call_later(LINGER_TIME_S, self._stop_lingering)

    def _stop_lingering(self) -> None:
        for timer in (self._idle_timer, self._total_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._total_timer = None
        if self._real is not None and not self._real.is_closing():
            self._real.close()

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)
            return
        self._discarded += len(data)  # never parsed: no new request starts on it
        if self._discarded > LINGER_MAX_BYTES:
            self._stop_lingering()
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = self.loop.call_later(LINGER_IDLE_S, self._stop_lingering)

    def eof_received(self) -> None:
        if self.lingering:
            self._stop_lingering()  # the client has sent all it will: the close is clean

    def shutdown(self) -> None:
        self._no_linger = True
        if self.lingering:
            self._stop_lingering()
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lingering = False
        self._stop_lingering()
        super().connection_lost(exc)
