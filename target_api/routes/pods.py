"""Pods and their stack."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_api.director import Director
from target_api.director.breaker import CircuitOpenError
from target_api.director.loopback import LoopbackError
from target_api.errors import ApiError
from target_api.routes.common import (
    director_of,
    path_id,
    read_body,
    read_json,
    require_token,
    resource,
)
from target_api.schemas import PodIn, StackIn
from target_api.store import AttachOutcome, PodRecord


def _pod_json(director: Director, pod: PodRecord) -> dict[str, Any]:
    return {
        "id": pod.id,
        "name": pod.name,
        "state": pod.state,
        "stack": json.loads(pod.stack_json) if pod.stack_json else None,
        "restart_policy": pod.restart_policy,
        "restarts": pod.restarts,
        "containers": director.pods.describe(pod.id),
        "created_at": pod.created_at,
        "updated_at": pod.updated_at,
    }


async def _get_or_404(director: Director, pod_id: str) -> PodRecord:
    pod = await run_in_threadpool(director.store.get_pod, pod_id)
    if pod is None:
        raise ApiError(404, "pod_not_found", f"no pod with id {pod_id!r}")
    return pod


async def create_pod(request: Request) -> Response:
    require_token(request)
    body = await read_json(request, PodIn)
    director = director_of(request)
    stack = body.stack.model_dump(exclude_none=True) if body.stack else None
    pod = await run_in_threadpool(director.create_pod, body.name, body.restart_policy, stack)
    if pod is None:
        raise ApiError(409, "pod_exists", f"a pod named {body.name!r} exists already")
    return JSONResponse(_pod_json(director, pod), 201)


async def list_pods(request: Request) -> Response:
    director = director_of(request)
    pods = await run_in_threadpool(director.store.list_pods)
    return JSONResponse([_pod_json(director, p) for p in pods])


async def get_pod(request: Request) -> Response:
    director = director_of(request)
    pod = await _get_or_404(director, path_id(request, "pod_id", "pod"))
    return JSONResponse(_pod_json(director, pod))


async def delete_pod(request: Request) -> Response:
    require_token(request)
    director = director_of(request)
    pod_id = path_id(request, "pod_id", "pod")
    if not await run_in_threadpool(director.delete_pod, pod_id):
        raise ApiError(404, "pod_not_found", f"no pod with id {pod_id!r}")
    return Response(status_code=204)


async def put_stack(request: Request) -> Response:
    """Attach a stack: the first wins; the same stack again is a no-op; another is 409."""
    require_token(request)
    body = await read_json(request, StackIn)
    director = director_of(request)
    pod_id = path_id(request, "pod_id", "pod")
    outcome = await run_in_threadpool(director.attach, pod_id, body.model_dump(exclude_none=True))
    if outcome is AttachOutcome.MISSING:
        raise ApiError(404, "pod_not_found", f"no pod with id {pod_id!r} that can take a stack")
    if outcome is AttachOutcome.DIFFERENT:
        raise ApiError(
            409,
            "pod_has_stack",
            f"pod {pod_id!r} already has a different stack; delete the pod to change it",
        )
    pod = await _get_or_404(director, pod_id)
    return JSONResponse(_pod_json(director, pod) | {"changed": outcome is AttachOutcome.ATTACHED})


async def call_container(request: Request) -> Response:
    """Relay the body to a container of the pod over loopback TCP; its reply comes back."""
    require_token(request)
    director = director_of(request)
    pod_id, name = path_id(request, "pod_id", "pod"), request.path_params["container"]
    await _get_or_404(director, pod_id)
    payload = await read_body(request)
    try:
        reply = await run_in_threadpool(director.call_container, pod_id, name, payload)
    except CircuitOpenError as exc:
        raise ApiError(503, "circuit_open", str(exc), headers={"Retry-After": "5"}) from exc
    except LoopbackError as exc:
        raise ApiError(502, "container_unreachable", str(exc)) from exc
    if reply is None:
        raise ApiError(404, "container_not_running", f"pod {pod_id!r} runs no container {name!r}")
    return Response(reply, media_type="application/octet-stream")


def routes() -> list[Route]:
    return [
        resource("/api/v0/pods", {"GET": list_pods, "POST": create_pod}),
        resource("/api/v0/pods/{pod_id}", {"GET": get_pod, "DELETE": delete_pod}),
        Route("/api/v0/pods/{pod_id}/stack", put_stack, methods=["PUT"]),
        Route(
            "/api/v0/pods/{pod_id}/containers/{container}/call", call_container, methods=["POST"]
        ),
    ]
