"""A real uvicorn server on 127.0.0.1:0 whose latency the test sets while the load runs;
it records when each request arrived and how many were in flight at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_api.testing import poll_until

__all__ = ["SlowingServer", "arrivals_between", "serve_slowing"]


@dataclass
class SlowingServer:
    url: str = ""
    # seconds after the first request at which every answer starts to take slow_s
    slow_after_s: float = 1.0
    slow_s: float = 0.3
    arrivals: list[float] = field(default_factory=list)
    fail_at: int | None = None  # the arrival (0-based) answered 500 instead
    in_flight: int = 0
    most_in_flight: int = 0


def _app(state: SlowingServer) -> Starlette:
    async def work(request: Request) -> Response:
        now = time.monotonic()
        index = len(state.arrivals)
        state.arrivals.append(now)
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if now - state.arrivals[0] >= state.slow_after_s:
                await asyncio.sleep(state.slow_s)
            if index == state.fail_at:
                return JSONResponse({"error": "boom", "detail": "injected"}, status_code=500)
            return JSONResponse({"status": "ok"})
        finally:
            state.in_flight -= 1

    return Starlette(routes=[Route("/work", work)])


def serve_slowing() -> Iterator[SlowingServer]:
    """Serve one; a test module's fixture yields from it."""
    state = SlowingServer()
    config = uvicorn.Config(
        _app(state), host="127.0.0.1", port=0, log_level="warning",
        access_log=False, lifespan="off", ws="none",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn-slowing", daemon=True)
    thread.start()
    poll_until("uvicorn started", lambda: server.started, 10, interval_s=0.01)
    state.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield state
    server.should_exit = True
    thread.join(timeout=10)


def arrivals_between(state: SlowingServer, low_s: float, high_s: float) -> int:
    """Requests that arrived from ``low_s`` to ``high_s`` after the first one."""
    first = state.arrivals[0]
    return sum(1 for t in state.arrivals if low_s <= t - first < high_s)
