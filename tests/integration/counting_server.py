"""A real uvicorn + Starlette server on 127.0.0.1, port 0, in a thread of the test process,
that counts what it is sent: /ping (200), /items/{id} (404), /fail (500), /stall_once
(200; its 20th request takes STALL_S)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_api.testing import poll_until

__all__ = ["STALL_S", "Server", "counting_server"]

STALL_S = 0.5


@dataclass
class Server:
    url: str
    hits: Counter[str] = field(default_factory=Counter)


@contextlib.contextmanager
def counting_server() -> Iterator[Server]:
    state = Server(url="")

    async def ping(request: Request) -> Response:
        state.hits["ping"] += 1
        return JSONResponse({"status": "ok"})

    async def item(request: Request) -> Response:
        state.hits["item"] += 1
        return JSONResponse({"id": request.path_params["id"]}, status_code=404)

    async def fail(request: Request) -> Response:
        state.hits["fail"] += 1
        return JSONResponse({"error": "boom"}, status_code=500)

    async def stall_once(request: Request) -> Response:
        state.hits["stall"] += 1
        if state.hits["stall"] == 20:
            await asyncio.sleep(STALL_S)
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/ping", ping),
            Route("/items/{id}", item),
            Route("/fail", fail),
            Route("/stall_once", stall_once),
        ]
    )
    uv = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
        )  # fmt: skip
    )
    thread = threading.Thread(target=uv.run, name="test-uvicorn", daemon=True)
    thread.start()
    poll_until("uvicorn started", lambda: uv.started, 10, interval_s=0.01)
    state.url = f"http://127.0.0.1:{uv.servers[0].sockets[0].getsockname()[1]}"
    yield state
    uv.should_exit = True
    thread.join(timeout=10)
