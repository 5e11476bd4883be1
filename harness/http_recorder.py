"""A recording HTTP hop: ``python -m harness.http_recorder --upstream URL --out FILE``.

It listens on 127.0.0.1 (port 0 unless given), forwards every request to the upstream
unchanged (method, path, query, headers, body, streamed both ways) and appends a line per
answered request to ``--out``: ``{"t", "method", "path", "status"}`` (``"hop": true`` where the
upstream could not be reached and the hop itself answered 502). The API-coverage phase
(:mod:`harness.phases.api_coverage_phase`) puts it between the tests and the target, so that
what reached the target is known for any HTTP service. Loopback upstreams only. It prints
``http-recorder listening on http://127.0.0.1:PORT`` once it serves, flushes every line (a
killed run keeps what was recorded), and ends by itself when its launcher is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import IO, Any

__all__ = ["LISTENING", "main"]

LISTENING = "http-recorder listening on "
# hop-by-hop headers (RFC 9110 7.6.1) are the hop's own, never forwarded
_HOP_HEADERS = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade", b"host",
    }
)  # fmt: skip

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Recorder:
    """The ASGI app: forward, record, answer."""

    def __init__(self, upstream: str, out: IO[str]) -> None:
        import httpx

        self._upstream = upstream.rstrip("/")
        self._out = out
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits)

    def _record(self, method: str, path: str, status: int, hop: bool = False) -> None:
        line: dict[str, Any] = {"t": round(time.time(), 4), "method": method, "path": path}
        line["status"] = status
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
                    await self._client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # websockets are not recorded: refused
            return
        await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        import httpx

        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        url = self._upstream + scope.get("raw_path", path.encode()).decode("latin-1")
        url += f"?{query}" if query else ""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_HEADERS]

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        request = self._client.build_request(method, url, headers=headers, content=body())
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._record(method, path, 502, hop=True)
            text = json.dumps({"error": f"recording hop: upstream unreachable: {exc!r}"})
            await send({"type": "http.response.start", "status": 502,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": text.encode()})
            return
        self._record(method, path, response.status_code)
        try:
            out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_HEADERS]
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": out_headers})  # fmt: skip
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError:  # the upstream broke off mid-body: so does the hop
            return
        finally:
            await response.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.http_recorder")
    parser.add_argument("--upstream", required=True, help="the target's base URL (loopback)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to append to")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    args = parser.parse_args(argv)
    from harness.netguard import ensure_loopback_url

    upstream = ensure_loopback_url(args.upstream, where="--upstream")
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
            access_log=False, lifespan="on",
        )  # fmt: skip
        _Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
