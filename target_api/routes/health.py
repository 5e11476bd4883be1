"""Liveness and readiness: ``ok`` 200, ``degraded`` 200, ``down`` 503."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_api.state import AppState, app_state

DB_CHECK_TIMEOUT_S = 2.0


async def _database_check(state: AppState) -> dict[str, Any]:
    if state.store is None:
        if state.unavailable is not None:
            return {"status": "down", "detail": f"unavailable, retrying: {state.unavailable}"}
        return {"status": "down", "detail": "not opened"}
    try:
        await asyncio.wait_for(run_in_threadpool(state.store.ping), DB_CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"status": "down", "detail": f"no answer within {DB_CHECK_TIMEOUT_S} s"}
    except Exception as exc:  # any failure of the database is what this check reports
        return {"status": "down", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "dialect": state.store.dialect}


def _director_check(state: AppState) -> dict[str, Any]:
    if state.director is None:
        return {"status": "down", "detail": "not started"}
    return state.director.health()


def _overall(checks: dict[str, dict[str, Any]]) -> str:
    statuses = {c["status"] for c in checks.values()}
    if "down" in statuses:
        return "down"
    return "degraded" if "degraded" in statuses else "ok"


def _answer(checks: dict[str, dict[str, Any]]) -> JSONResponse:
    status = _overall(checks)
    return JSONResponse({"status": status, "checks": checks}, 503 if status == "down" else 200)


async def live(request: Request) -> JSONResponse:
    """Alive means the event loop answers; dependencies do not make a process dead."""
    state = app_state(request)
    checks = {"event_loop": {"status": "down" if state.stopping else "ok"}}
    return _answer(checks)


async def ready(request: Request) -> JSONResponse:
    """Ready means it can do its work: the database answers and the director runs."""
    state = app_state(request)
    checks = {"database": await _database_check(state), "director": _director_check(state)}
    if state.stopping:
        checks["shutdown"] = {"status": "down", "detail": "shutting down"}
    return _answer(checks)


async def health(request: Request) -> JSONResponse:
    """Everything: readiness plus the loopback circuit breakers (open ones degrade)."""
    state = app_state(request)
    checks = {"database": await _database_check(state), "director": _director_check(state)}
    if state.director is not None:
        checks["loopback"] = state.director.breakers.health()
    return _answer(checks)


async def ping(request: Request) -> JSONResponse:
    """Reached only for HEAD (GET takes the fast path in app.py); other methods get 405."""
    return JSONResponse({"status": "ok"})


def routes() -> list[Route]:
    return [
        Route("/api/v0/ping", ping, methods=["GET"]),
        Route("/api/v0/health", health, methods=["GET"]),
        Route("/api/v0/health/live", live, methods=["GET"]),
        Route("/api/v0/health/ready", ready, methods=["GET"]),
    ]
