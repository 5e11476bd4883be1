"""/metrics and /openapi.json."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_api.director.lifecycle import JOB_STATES
from target_api.schemas import JobIn, PodIn, StackIn
from target_api.state import AppState, app_state


def _store_metrics(state: AppState) -> Iterable[Metric]:
    up = GaugeMetricFamily("moonbase_store_up", "1 when the store answered this scrape")
    try:
        counts = state.store.count_jobs_by_state() if state.store is not None else None
    except Exception:  # a scrape must not fail with the database: it reports it instead
        counts = None
    up.add_metric([], 0 if counts is None else 1)
    yield up
    if counts is not None:
        jobs = GaugeMetricFamily("moonbase_jobs", "Jobs in the store by state", labels=["state"])
        for name in JOB_STATES:
            jobs.add_metric([name], counts.get(name, 0))
        yield jobs
    if state.director is not None:
        running = GaugeMetricFamily("moonbase_director_running_jobs", "Attempts running now")
        running.add_metric([], state.director.jobs.running_count)
        yield running
        pods = GaugeMetricFamily("moonbase_director_pods", "Pods the director supervises")
        pods.add_metric([], state.director.pods.pod_count)
        yield pods


async def metrics(request: Request) -> Response:
    state = app_state(request)
    body = await run_in_threadpool(generate_latest, state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, ok: str, *, body: str | None = None, auth: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "success"},
            "4XX": {
                "description": "client error",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    if auth:
        op["security"] = [{"bearer": []}]
    return op


@cache
def openapi_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in (PodIn, StackIn, JobIn)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    }
    v0 = "/api/v0"
    paths = {
        f"{v0}/ping": {"get": _op("Liveness without I/O", "200")},
        f"{v0}/health": {"get": _op("All checks, loopback breakers included", "200")},
        f"{v0}/health/live": {"get": _op("The process answers", "200")},
        f"{v0}/health/ready": {"get": _op("Database and director work", "200")},
        f"{v0}/pods": {
            "get": _op("List pods", "200"),
            "post": _op("Create a pod, optionally with its stack", "201", body="PodIn", auth=True),
        },
        f"{v0}/pods/{{pod_id}}": {
            "get": _op("One pod", "200"),
            "delete": _op("Delete a pod and its containers", "204", auth=True),
        },
        f"{v0}/pods/{{pod_id}}/stack": {
            "put": _op(
                "Attach the pod's one stack (same again: no-op; other: 409)",
                "200",
                body="StackIn",
                auth=True,
            ),
        },
        f"{v0}/pods/{{pod_id}}/containers/{{container}}/call": {
            "post": _op("Relay bytes to a container over loopback TCP", "200", auth=True),
        },
        f"{v0}/jobs": {
            "post": _op("Submit a job (idempotency_key)", "202", body="JobIn", auth=True)
        },
        f"{v0}/jobs/{{job_id}}": {"get": _op("A job's state", "200")},
        f"{v0}/jobs/{{job_id}}/cancel": {"post": _op("Cancel a job", "200", auth=True)},
        f"{v0}/jobs/{{job_id}}/logs": {"get": _op("The job's output (text)", "200")},
        f"{v0}/jobs/{{job_id}}/artifacts": {"get": _op("The job's artifacts", "200")},
        f"{v0}/jobs/{{job_id}}/artifacts/{{name}}": {"get": _op("One artifact (bytes)", "200")},
        "/metrics": {"get": _op("Prometheus metrics", "200")},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Moonbase v0 API", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


def routes() -> list[Route]:
    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def register_store_metrics(state: AppState) -> None:
    """Jobs by state and director gauges, computed at scrape time."""
    state.metrics.add_collector(lambda: _store_metrics(state))
