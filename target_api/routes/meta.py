"""/metrics and /openapi.json."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from target_api.director.lifecycle import JOB_STATES
from target_api.openapi import openapi_document
from target_api.state import AppState, app_state

__all__ = ["metrics", "openapi", "openapi_document", "register_store_metrics", "routes"]


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
