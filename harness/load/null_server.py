"""The null server: ``python -m harness.load.null_server``, an HTTP/1.1 server on 127.0.0.1
that answers every request at once, against which the generator's own latency is measured.

"At once" means: the moment a request's last byte has arrived (its head and, by
``Content-Length`` or a chunked body's last chunk, its whole body), the one fixed response,
built before the first connection, is written to the socket. No routing, no parsing past
the framing, no allocation per request beyond the buffer, no logging, no Nagle delay
(asyncio sets TCP_NODELAY), keep-alive, pipelined requests answered in order. It runs in
its own process, on uvloop when installed, so it neither shares a GIL with the harness nor
the client's core on a two-core machine: what the client measures against it is the
client's own time plus one loopback round trip, which is the floor.

It prints ``{"type": "ready", "port": N}`` on stdout once it listens, then serves until
SIGTERM/SIGINT, stdin closing or ``--max-s`` seconds, whichever comes first, and prints
``{"type": "done", "requests": N}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import cast

__all__ = ["NullProtocol", "response_for", "main"]

STATUS = 200
_BODY = b"{}"
_HEAD_END = b"\r\n\r\n"
_CHUNKED_END = b"\r\n0\r\n\r\n"


def response_for(head_only: bool) -> bytes:
    """The fixed response (``HEAD`` gets the same head without a body)."""
    head = (
        f"HTTP/1.1 {STATUS} OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(_BODY)}\r\n\r\n"
    ).encode("ascii")
    return head if head_only else head + _BODY


_RESPONSE = response_for(False)
_HEAD_RESPONSE = response_for(True)


class NullProtocol(asyncio.Protocol):
    """One connection: answer each complete request as soon as its last byte is in."""

    served = 0  # over every connection of the process

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but quack the same
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        out = []
        while (end := buffer.find(_HEAD_END)) >= 0:
            size = _request_size(buffer, end)
            if size is None or size > len(buffer):
                break  # the body is still arriving
            out.append(_HEAD_RESPONSE if buffer.startswith(b"HEAD ") else _RESPONSE)
            del buffer[:size]
        if out and self.transport is not None:
            NullProtocol.served += len(out)
            self.transport.write(b"".join(out))


def _request_size(buffer: bytearray, head_end: int) -> int | None:
    """The size of the request that starts the buffer, or None when a chunked body has not
    ended yet."""
    head = bytes(buffer[:head_end]).lower()
    body_start = head_end + len(_HEAD_END)
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        value = head[at + len(b"\r\ncontent-length:") : line_end if line_end >= 0 else None]
        return body_start + int(value.strip() or b"0")
    if b"\r\ntransfer-encoding: chunked" in head:
        # A body ends with an empty chunk: enough framing for a server that never reads it.
        last = buffer.find(_CHUNKED_END, body_start - 2)
        return None if last < 0 else last + len(_CHUNKED_END)
    return body_start


async def serve(max_s: float) -> int:
    """Listen on 127.0.0.1 (port 0), print the port, serve until told to stop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullProtocol, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # the harness holds our stdin: when it goes (even killed), so do we
    stdin = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(stdin, 4096):
            loop.remove_reader(stdin)
            stop.set()

    loop.add_reader(stdin, on_stdin)
    sys.stdout.write(json.dumps({"type": "ready", "port": port}) + "\n")
    sys.stdout.flush()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max_s)
    server.close()
    return NullProtocol.served


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.null_server")
    parser.add_argument("--max-s", type=float, default=600.0, help="stop after this long")
    args = parser.parse_args(argv)
    try:
        import uvloop  # the fastest loop Python has here; plain asyncio without it
    except ImportError:
        served = asyncio.run(serve(args.max_s))
    else:
        served = uvloop.run(serve(args.max_s))
    sys.stdout.write(json.dumps({"type": "done", "requests": served}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
