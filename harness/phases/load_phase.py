"""The load phase: Locust against the target, its merged histogram read for percentile
bounds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import LoadSettings
from harness.record import LoadOutcome
from harness.session import RunContext

if TYPE_CHECKING:
    from harness.load import LoadSpec

__all__ = ["load_spec", "run_load_phase"]


def load_spec(
    settings: LoadSettings, target_url: str, overrides: Mapping[str, Any] | None = None
) -> LoadSpec:
    spec = _spec(settings, target_url, overrides)
    if settings.expect_workers:  # Locust workers started elsewhere, one process each
        return dataclasses.replace(
            spec,
            processes=settings.expect_workers,
            expect_workers=settings.expect_workers,
            master_bind=settings.master_bind,
        )
    return spec


def _spec(settings: LoadSettings, target_url: str, overrides: Mapping[str, Any] | None) -> LoadSpec:
    from harness.load import LoadSpec, RequestSpec, load_load_spec

    if settings.locustfile:
        # the locustfile's users pace themselves (closed model): no intended rate
        spec = LoadSpec(
            target_url=target_url,
            rate_rps=0.0,
            users=settings.users,
            duration_s=settings.duration_s,
            max_requests=settings.max_requests,
            processes=settings.processes,
            locustfile=str(Path(settings.locustfile).resolve()),
        )
        return dataclasses.replace(spec, **{**dict(overrides or {}), "rate_rps": 0.0})
    if settings.load_file:
        spec = load_load_spec(Path(settings.load_file), target_url)
        # what the user typed on the command line wins over the load file
        return dataclasses.replace(spec, **dict(overrides or {}))
    return LoadSpec(
        target_url=target_url,
        requests=(RequestSpec(path=settings.path),),
        rate_rps=settings.rate_rps,
        users=settings.users,
        duration_s=settings.duration_s,
        max_requests=settings.max_requests,
        processes=settings.processes,
    )


def run_load_phase(
    ctx: RunContext,
    settings: LoadSettings,
    target_url: str,
    on_progress: Callable[[Any], None] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadOutcome:
    """Run the load; with a profile file, ``overrides`` (LoadSpec fields given on the
    command line) replace the file's values."""
    from harness.load import run_load
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate

    spec = load_spec(settings, target_url, overrides)
    if spec.expect_workers:
        ctx.say(
            f"load: Locust master on {spec.master_bind} waiting for {spec.expect_workers} "
            f"worker(s): reliable-test-runner load-worker --master {spec.master_bind}"
        )
    if spec.locustfile:
        ctx.say(
            f"load: locustfile {spec.locustfile} (its users, wait_time and shape; closed "
            f"model), {spec.users} users unless its shape says, at most {spec.duration_s} s, "
            f"{spec.processes} process(es) against {target_url}"
        )
    else:
        ctx.say(
            f"load: {spec.rate_rps or 'max'} req/s intended, {spec.users} users, "
            f"{spec.duration_s} s against {target_url}"
        )
    from harness.load.driver import LoadInterrupted

    try:
        result = run_load(spec, progress=on_progress)
    except LoadInterrupted as stopped:
        # what was measured until the interruption is kept, marked interrupted
        if stopped.result is not None:
            partial = stopped.result
            histogram = decode_histogram(partial.histogram)
            ctx.state.record(
                load=LoadOutcome(
                    partial,
                    percentile_estimate(histogram, 0.95),
                    percentile_estimate(histogram, 0.99),
                )
            )
            ctx.say(
                f"load: interrupted after {partial.requests} requests "
                f"({partial.duration_s:.1f} s): kept, marked interrupted"
            )
        raise stopped.cause from None
    histogram = decode_histogram(result.histogram)
    outcome = LoadOutcome(
        result, percentile_estimate(histogram, 0.95), percentile_estimate(histogram, 0.99)
    )
    ctx.state.record(load=outcome)
    # the whole merged histogram beside the report: what a later run is compared with
    from harness.baseline import HISTOGRAM_FILE

    (ctx.state.run_dir / HISTOGRAM_FILE).write_text(result.histogram + "\n", encoding="utf-8")
    ctx.say(
        f"load: {result.requests} requests, {result.failures} failed, {result.rps:.0f} req/s, "
        f"p95 {outcome.p95.estimate_ms:.3f} ms"
    )
    if result.workers_expected:
        ctx.say(f"load: {result.processes} of {result.workers_expected} workers finished")
    if result.user_errors:
        ctx.say(f"load: {result.user_errors} user error(s) raised by the locustfile's code")
    for message, count in list(result.errors.items())[:3]:  # why they failed, worst first
        ctx.say(f"load: {count} failed: {message}")
    if len(result.by_request) > 1:  # the mix, request by request: never one averaged p95
        for request in result.by_request:
            ctx.say(
                f"load: {request.name}: {request.requests} requests, {request.failures} "
                f"failed, p95 {request.latency_ms['p95']:.3f} ms"
            )
    return outcome
