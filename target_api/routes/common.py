"""What every route shares: the bearer token, bounded JSON bodies, threads."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from target_api.director import Director
from target_api.errors import ApiError
from target_api.state import app_state

M = TypeVar("M", bound=BaseModel)
_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex: what the API hands out


Endpoint = Callable[[Request], Awaitable[Response]]


def resource(path: str, handlers: Mapping[str, Endpoint]) -> Route:
    """One route for every method of ``path``, so that a method it lacks gets a 405 whose
    ``Allow`` lists them all (a route per method would list only its own)."""
    table = dict(handlers)
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def dispatch(request: Request) -> Response:
        handler = table[request.method]
        request.scope["endpoint"] = handler  # the metrics label names the real handler
        return await handler(request)

    dispatch.__name__ = "_".join(h.__name__ for h in handlers.values())
    return Route(path, dispatch, methods=list(handlers))


def path_id(request: Request, param: str, kind: str) -> str:
    """The id in the path, or 404 without touching the database when it cannot be one
    (a NUL byte, say, that PostgreSQL would refuse with an error)."""
    value: str = request.path_params[param]
    if not _ID.match(value):
        raise ApiError(404, f"{kind}_not_found", f"no {kind} with id {value[:80]!r}")
    return value


def director_of(request: Request) -> Director:
    """The running director, or 503 while it is not (starting or stopping)."""
    state = app_state(request)
    if state.director is None:
        why = (
            f"the database is unavailable ({state.unavailable}); the API keeps retrying"
            if state.unavailable is not None
            else "the director is not running"
        )
        raise ApiError(503, "unavailable", why, headers={"Retry-After": "1"})
    return state.director


def require_token(request: Request) -> None:
    """401 without a bearer token, 403 with a wrong one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "this call needs 'Authorization: Bearer <MOONBASE_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = app_state(request).settings.api_token
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(403, "forbidden", "the bearer token is not the API's token")


# After a 413 the rest of the body is not wanted: the connection closes, and the server
# reads and discards what is still arriving first (target_api/lingering.py), so that a
# client still sending gets the 413 instead of a reset.
_CLOSE = {"Connection": "close"}


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the configured limit."""
    limit = app_state(request).settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            "payload_too_large",
            f"body of {declared} bytes exceeds {limit} bytes",
            headers=_CLOSE,
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(
                    413, "payload_too_large", f"body exceeds {limit} bytes", headers=_CLOSE
                )
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise ApiError(400, "bad_request", "the client went away mid-body") from exc
    return b"".join(chunks)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


async def read_json(request: Request, model: type[M]) -> M:
    """Parse and validate the body as ``model``: 400 for broken JSON, 422 for bad fields."""
    body = await read_body(request)
    if not body.strip():
        raise ApiError(400, "bad_request", "the body is empty; a JSON object is expected")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(
                400, "bad_json", f"the body is not valid JSON: {_describe(exc)}"
            ) from exc
        raise ApiError(422, "invalid_request", _describe(exc)) from exc
