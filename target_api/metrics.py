"""Prometheus metrics: one registry per app, so two apps in one process never clash."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _PingCollector(Collector):
    """Ping bypasses the middleware; its count is read from a plain list at scrape time."""

    def __init__(self, counter: list[int]) -> None:
        self._counter = counter

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily("moonbase_ping_requests", "Ping requests answered")
        family.add_metric([], self._counter[0])
        yield family


class _CallbackCollector(Collector):
    def __init__(self, callback: Callable[[], Iterable[Metric]]) -> None:
        self._callback = callback

    def collect(self) -> Iterable[Metric]:
        return self._callback()


class ApiMetrics:
    """Every metric the API exposes on ``/metrics``."""

    def __init__(self) -> None:
        # *_created series double the output and nobody reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.ping_counter = [0]
        self.registry.register(_PingCollector(self.ping_counter))
        # process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds, ...:
        # what a harness that did not start this process samples its use from
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "moonbase_http_requests",
            "HTTP requests by handler, method and status",
            ["handler", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "moonbase_http_request_duration_seconds",
            "HTTP request duration by handler",
            ["handler"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "moonbase_jobs_finished",
            "Jobs that reached a final state",
            ["state"],
            registry=self.registry,
        )
        self.job_attempts = Counter(
            "moonbase_job_attempts", "Job attempts started", registry=self.registry
        )
        self.director_tick_failures = Counter(
            "moonbase_director_tick_failures",
            "Director ticks that failed (a database error, say); the next tick tries again",
            registry=self.registry,
        )
        self.container_restarts = Counter(
            "moonbase_container_restarts",
            "Pod containers restarted by their restart policy",
            registry=self.registry,
        )
        self.reconciled = Counter(
            "moonbase_reconciled",
            "Things the director repaired: left by an earlier run, or by another director",
            ["kind"],
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "moonbase_circuit_breaker_state",
            "Loopback circuit breakers: 0 closed, 1 half-open, 2 open",
            ["target"],
            registry=self.registry,
        )
        self.breaker_calls = Counter(
            "moonbase_loopback_calls",
            "Container-to-container loopback calls by outcome",
            ["target", "outcome"],
            registry=self.registry,
        )

    def add_collector(self, callback: Callable[[], Iterable[Metric]]) -> None:
        """Metrics computed at scrape time (e.g. jobs by state from the database)."""
        self.registry.register(_CallbackCollector(callback))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        requests, latency = self.requests, self.latency

        async def metered(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                endpoint = scope.get("endpoint")
                handler = getattr(endpoint, "__name__", "unmatched")
                requests.labels(handler, scope["method"], str(status[0])).inc()
                latency.labels(handler).observe(time.perf_counter() - started)

        return metered
