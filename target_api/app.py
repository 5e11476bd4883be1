"""The ASGI application: a fast path for ping in front of a Starlette app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from target_api import errors
from target_api.metrics import ApiMetrics
from target_api.routes import health, jobs, meta, pods
from target_api.settings import Settings
from target_api.state import AppState

PING_PATH = "/api/v0/ping"
_PING_BODY = b'{"status":"ok"}'
_PING_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
}
_PING_BODY_MESSAGE = {"type": "http.response.body", "body": _PING_BODY}


@dataclass(slots=True)
class PingFastPath:
    """Answers ``GET /api/v0/ping`` before any routing or middleware: no I/O, no
    allocation beyond uvicorn's own, so ping stays up when everything else is busy."""

    app: ASGIApp
    counter: list[int]
    state: AppState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PING_PATH and scope["method"] == "GET":
            self.counter[0] += 1
            await send(_PING_START)
            await send(_PING_BODY_MESSAGE)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> PingFastPath:
    """Build the API for ``settings``; the store and director start with the lifespan."""
    metrics = ApiMetrics()
    state = AppState(settings=settings, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await state.start()
        try:
            yield {"moonbase": state}
        finally:
            await state.stop()

    routes: list[Route] = [
        *health.routes(),
        *pods.routes(),
        *jobs.routes(),
        *meta.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            errors.ApiError: errors.on_api_error,
            HTTPException: errors.on_http_exception,
            Exception: errors.on_unexpected,
        },
    )
    app.state.moonbase = state
    meta.register_store_metrics(state)
    metered = metrics.middleware(app)
    return PingFastPath(metered, metrics.ping_counter, state)
