"""Toxiproxy's HTTP API as a Starlette app over a :class:`ProxyCollection`.

Routes, methods, status codes and bodies follow Toxiproxy 2.12 (``api.go``): errors are
``{"error": ..., "status": ...}`` sent as ``text/plain`` (Go's ``http.Error``), deletes
answer 204, toxic creation 200, proxy creation and populate 201, unknown paths
``404 page not found``, a wrong method 405 with an empty body, browsers 403.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.toxiproxy.embedded.collection import ApiError, ProxyCollection

__all__ = ["VERSION", "create_app"]

# what GET /version reports: the Toxiproxy API level this server follows, marked as ours
VERSION = "2.12.0-embedded"

Handler = Callable[[Request], Awaitable[Response]]


def _json(value: object, status: int = 200) -> Response:
    body = json.dumps(value, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _error(exc: ApiError) -> Response:
    body = json.dumps({"error": exc.message, "status": exc.status}, separators=(",", ":"))
    return Response(
        body + "\n",
        status_code=exc.status,
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


async def _body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(f"bad request body: {exc}", 400) from None


def create_app(collection: ProxyCollection) -> Starlette:
    """The ASGI app serving ``collection``; every handler runs on the proxies' loop."""

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc)

        return endpoint

    def name(request: Request, key: str = "proxy") -> str:
        return str(request.path_params[key])

    async def version(request: Request) -> Response:
        return Response(
            json.dumps({"version": VERSION}) + "\n",
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    async def reset(request: Request) -> Response:
        await collection.reset()
        return Response(status_code=204)

    async def proxy_index(request: Request) -> Response:
        return _json(collection.index())

    async def proxy_create(request: Request) -> Response:
        return _json(await collection.create(await _body(request)), 201)

    async def populate(request: Request) -> Response:
        try:
            proxies, error = await collection.populate(await _body(request))
        except ApiError as exc:
            proxies, error = [], exc
        payload: dict[str, object] = {}
        if error is not None:
            payload = {"error": error.message, "status": error.status}
        payload["proxies"] = proxies or None  # Go marshals an empty slice here as null
        return _json(payload, error.status if error is not None else 201)

    async def proxy_show(request: Request) -> Response:
        return _json(collection.show(name(request)))

    async def proxy_update(request: Request) -> Response:
        return _json(await collection.update(name(request), await _body(request)))

    async def proxy_delete(request: Request) -> Response:
        await collection.delete(name(request))
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        return _json(collection.toxics(name(request)))

    async def toxic_create(request: Request) -> Response:
        return _json(collection.create_toxic(name(request), await _body(request)))

    async def toxic_show(request: Request) -> Response:
        return _json(collection.show_toxic(name(request), name(request, "toxic")))

    async def toxic_update(request: Request) -> Response:
        body = await _body(request)
        return _json(collection.update_toxic(name(request), name(request, "toxic"), body))

    async def toxic_delete(request: Request) -> Response:
        collection.delete_toxic(name(request), name(request, "toxic"))
        return Response(status_code=204)

    routes = [
        Route("/reset", guarded(reset), methods=["POST"]),
        Route("/proxies", guarded(proxy_index), methods=["GET"]),
        Route("/proxies", guarded(proxy_create), methods=["POST"]),
        Route("/populate", guarded(populate), methods=["POST"]),
        Route("/proxies/{proxy}", guarded(proxy_show), methods=["GET"]),
        Route("/proxies/{proxy}", guarded(proxy_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", guarded(proxy_delete), methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", guarded(toxic_index), methods=["GET"]),
        Route("/proxies/{proxy}/toxics", guarded(toxic_create), methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_show), methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_update), methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", guarded(toxic_delete), methods=["DELETE"]),
        Route("/version", guarded(version), methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return Response(status_code=405)
        return Response("404 page not found\n", status_code=404, media_type="text/plain")

    return Starlette(
        routes=routes,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=_stop_browsers)],
        exception_handlers={404: not_found, 405: not_found},
    )


async def _stop_browsers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    """Toxiproxy refuses browsers, so a web page cannot drive it (a CSRF guard)."""
    if request.headers.get("user-agent", "").startswith("Mozilla/"):
        return Response("User agent not allowed\n", status_code=403, media_type="text/plain")
    return await call_next(request)
