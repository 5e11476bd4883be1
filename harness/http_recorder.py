"""A recording HTTP hop: ``python -m harness.http_recorder --upstream URL --out FILE``.

It listens on 127.0.0.1 (port 0 unless given) and forwards every request to the upstream as
it came: the method, the request target byte for byte (no ``..`` or ``%2F`` rewritten), every
header but the hop-by-hop ones (RFC 9110 7.6.1: ``Connection``, the headers it names,
``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``), ``Host``
included (so the links and ``Location`` headers the upstream builds point at the hop), the
body framed as it was (a length, or chunked) and streamed; the answer comes back the same
way, with the upstream's own ``Server`` and ``Date``. It keeps no cookies, reads no proxy
settings from the environment, follows no redirect and adds no header of its own: it sits
on httpcore's connection pool, not on an HTTP client. A client that breaks off its upload
breaks off the upstream request too (never delivered as complete).

Each answered request is appended to ``--out`` as one line, flushed at once (a killed run
keeps what was recorded): ``{"t", "method", "path", "raw", "status"}`` (``path`` decoded,
``raw`` as sent; ``"hop": true`` where the upstream could not be reached and the hop itself
answered 502). The API-coverage phase (:mod:`harness.phases.api_coverage_phase`) puts it
between the tests and the target, so that what reached the target is known for any HTTP
service. Loopback upstreams only, unless ``--allow-non-loopback``. It prints
``http-recorder listening on http://127.0.0.1:PORT`` once it serves, and ends by itself when
its launcher is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import IO, Any
from urllib.parse import urlsplit

from harness.errors import HarnessError

__all__ = ["LISTENING", "main"]

LISTENING = "http-recorder listening on "
# hop-by-hop headers (RFC 9110 7.6.1) are the hop's own, never forwarded
_HOP_HEADERS = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
        b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    }
)  # fmt: skip
_TIMEOUTS = {"connect": 10.0, "read": 300.0, "write": 300.0, "pool": 300.0}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


class ClientGone(HarnessError):
    """The client broke off before its request body was complete."""


def end_to_end(headers: Sequence[tuple[bytes, bytes]]) -> Headers:
    """``headers`` without the hop-by-hop ones, those ``Connection`` names included."""
    named = {
        token.strip().lower()
        for k, v in headers
        if k.lower() == b"connection"
        for token in v.split(b",")
    }
    drop = _HOP_HEADERS | named
    return [
        (k, v) for k, v in headers if k.lower() not in drop and not k.lower().startswith(b"proxy-")
    ]


def _chunked(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"transfer-encoding" and b"chunked" in v.lower() for k, v in headers)


class Recorder:
    """The ASGI app: forward, record, answer."""

    def __init__(self, upstream: str, out: IO[str]) -> None:
        import httpcore

        parts = urlsplit(upstream)
        self._scheme = parts.scheme.encode()
        self._host = (parts.hostname or "127.0.0.1").encode()
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._base = parts.path.rstrip("/").encode()  # an upstream mounted under a path
        self._netloc = parts.netloc.encode()
        self._out = out
        self._pool = httpcore.AsyncConnectionPool(max_connections=256, max_keepalive_connections=64)

    def _record(self, scope: Scope, status: int, hop: bool = False) -> None:
        raw = scope.get("raw_path") or scope["path"].encode()
        line: dict[str, Any] = {"t": round(time.time(), 4), "method": scope["method"]}
        line.update(path=scope["path"], raw=raw.decode("latin-1"), status=status)
        if hop:
            line["hop"] = True
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self._pool.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # websockets are not recorded: refused
            return
        await self._forward(scope, receive, send)

    def _request(self, scope: Scope, receive: Receive) -> Any:
        import httpcore

        raw = scope.get("raw_path") or scope["path"].encode()
        target = raw if raw == b"*" else self._base + raw
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers = end_to_end(scope["headers"])
        if not any(k.lower() == b"host" for k, _ in headers):  # an HTTP/1.0 client
            headers.insert(0, (b"host", self._netloc))
        if _chunked(scope["headers"]):  # framed as it came: chunked stays chunked
            headers.append((b"transfer-encoding", b"chunked"))

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return

        url = httpcore.URL(scheme=self._scheme, host=self._host, port=self._port, target=target)
        return httpcore.Request(
            scope["method"].encode(), url, headers=headers, content=body(),
            extensions={"timeout": _TIMEOUTS},
        )  # fmt: skip

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        import httpcore

        try:
            response = await self._pool.handle_async_request(self._request(scope, receive))
        except ClientGone:
            return  # nobody to answer; the upstream saw the request broken off
        except (httpcore.ConnectError, httpcore.TimeoutException, httpcore.NetworkError,
                httpcore.ProtocolError) as exc:  # fmt: skip
            self._record(scope, 502, hop=True)
            text = json.dumps({"error": f"recording hop: upstream unreachable: {exc!r}"})
            await send({"type": "http.response.start", "status": 502,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": text.encode()})
            return
        self._record(scope, response.status)
        try:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": end_to_end(response.headers)})  # fmt: skip
            async for chunk in response.aiter_stream():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException):
            return  # the upstream broke off mid-body: so does the hop
        finally:
            await response.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.http_recorder")
    parser.add_argument("--upstream", required=True, help="the target's base URL (loopback)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to append to")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument(
        "--allow-non-loopback", action="store_true", help="forward to an upstream off loopback"
    )
    args = parser.parse_args(argv)
    from harness.netguard import ensure_loopback_url

    upstream = ensure_loopback_url(
        args.upstream, where="--upstream", allow_non_loopback=args.allow_non_loopback
    )
    import uvicorn

    class _Server(uvicorn.Server):
        parent = os.getppid()

        async def on_tick(self, counter: int) -> bool:
            if counter % 10 == 0 and os.getppid() != self.parent:
                self.should_exit = True  # the launcher is gone: so is the hop
            return await super().on_tick(counter)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]
                print(f"{LISTENING}http://127.0.0.1:{port}", flush=True)

    with open(args.out, "a", encoding="utf-8") as out:
        config = uvicorn.Config(
            Recorder(upstream, out), host="127.0.0.1", port=args.port, log_level="warning",
            access_log=False, lifespan="on", server_header=False, date_header=False,
        )  # fmt: skip
        _Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
