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


def _no_constant(name: str) -> object:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


async def _body(request: Request) -> object:
    """The first JSON value of the body, as Go's ``json.Decoder.Decode`` reads it: what
    follows that value (a newline, a second document) is left unread, not an error."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        value, _ = _DECODER.raw_decode(text.lstrip(" \t\r\n"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(f"bad request body: {exc}", 400) from None
    return value


def create_app(collection: ProxyCollection) -> Starlette:
    """The ASGI app serving ``collection``; every handler runs on the proxies' loop."""
    return Starlette(
        routes=_Endpoints(collection).routes(),
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=_stop_browsers)],
        exception_handlers={404: _not_found, 405: _not_found},
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return Response(status_code=405)
    return Response("404 page not found\n", status_code=404, media_type="text/plain")


def _guarded(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc)

    return endpoint


def _name(request: Request, key: str = "proxy") -> str:
    return str(request.path_params[key])


class _Endpoints:
    """Toxiproxy's HTTP API over one proxy collection."""

    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    def routes(self) -> list[Route]:
        proxy, toxic = "/proxies/{proxy}", "/proxies/{proxy}/toxics/{toxic}"
        table: list[tuple[str, Handler, list[str]]] = [
            ("/reset", self.reset, ["POST"]),
            ("/proxies", self.proxy_index, ["GET"]),
            ("/proxies", self.proxy_create, ["POST"]),
            ("/populate", self.populate, ["POST"]),
            (proxy, self.proxy_show, ["GET"]),
            (proxy, self.proxy_update, ["POST", "PATCH"]),
            (proxy, self.proxy_delete, ["DELETE"]),
            (f"{proxy}/toxics", self.toxic_index, ["GET"]),
            (f"{proxy}/toxics", self.toxic_create, ["POST"]),
            (toxic, self.toxic_show, ["GET"]),
            (toxic, self.toxic_update, ["POST", "PATCH"]),
            (toxic, self.toxic_delete, ["DELETE"]),
            ("/version", self.version, ["GET"]),
        ]
        return [Route(path, _guarded(handler), methods=methods) for path, handler, methods in table]

    async def version(self, request: Request) -> Response:
        return Response(
            json.dumps({"version": VERSION}) + "\n",
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    async def reset(self, request: Request) -> Response:
        await self.collection.reset()
        return Response(status_code=204)

    async def proxy_index(self, request: Request) -> Response:
        return _json(self.collection.index())

    async def proxy_create(self, request: Request) -> Response:
        return _json(await self.collection.create(await _body(request)), 201)

    async def populate(self, request: Request) -> Response:
        try:
            proxies, error = await self.collection.populate(await _body(request))
        except ApiError as exc:
            proxies, error = [], exc
        payload: dict[str, object] = {}
        if error is not None:
            payload = {"error": error.message, "status": error.status}
        payload["proxies"] = proxies or None  # Go marshals an empty slice here as null
        return _json(payload, error.status if error is not None else 201)

    async def proxy_show(self, request: Request) -> Response:
        return _json(self.collection.show(_name(request)))

    async def proxy_update(self, request: Request) -> Response:
        self.collection.show(_name(request))  # Toxiproxy finds the proxy before the body
        return _json(await self.collection.update(_name(request), await _body(request)))

    async def proxy_delete(self, request: Request) -> Response:
        await self.collection.delete(_name(request))
        return Response(status_code=204)

    async def toxic_index(self, request: Request) -> Response:
        return _json(self.collection.toxics(_name(request)))

    async def toxic_create(self, request: Request) -> Response:
        self.collection.show(_name(request))  # a missing proxy is a 404 whatever the body
        return _json(self.collection.create_toxic(_name(request), await _body(request)))

    async def toxic_show(self, request: Request) -> Response:
        return _json(self.collection.show_toxic(_name(request), _name(request, "toxic")))

    async def toxic_update(self, request: Request) -> Response:
        self.collection.show_toxic(_name(request), _name(request, "toxic"))  # 404 first
        body = await _body(request)
        return _json(self.collection.update_toxic(_name(request), _name(request, "toxic"), body))

    async def toxic_delete(self, request: Request) -> Response:
        self.collection.delete_toxic(_name(request), _name(request, "toxic"))
        return Response(status_code=204)


async def _stop_browsers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    """Toxiproxy refuses browsers, so a web page cannot drive it (a CSRF guard)."""
    if request.headers.get("user-agent", "").startswith("Mozilla/"):
        return Response("User agent not allowed\n", status_code=403, media_type="text/plain")
    return await call_next(request)
