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
    from harness.floor import GeneratorFloor
    from harness.gates import GateThresholds
    from harness.load import LoadResult, LoadSpec
    from harness.phases.load_stop import StopRule

__all__ = [
    "load_spec",
    "measure_floor_phase",
    "run_load_phase",
    "say_floor_flags",
    "say_load_result",
]


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
    from harness.load.spec import Stage, with_stages

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
    given = dict(overrides or {})
    # a rate, duration or users typed on the command line replaces the stages' shape
    reshaped = bool(given.keys() & {"rate_rps", "duration_s", "users"})
    if settings.load_file:
        spec = load_load_spec(Path(settings.load_file), target_url)
        # what the user typed on the command line wins over the load file
        spec = dataclasses.replace(spec, **given)
        return dataclasses.replace(spec, stages=()) if reshaped else spec
    spec = LoadSpec(
        target_url=target_url,
        requests=(RequestSpec(path=settings.path),),
        rate_rps=settings.rate_rps,
        users=settings.users,
        duration_s=settings.duration_s,
        max_requests=settings.max_requests,
        processes=settings.processes,
        max_in_flight=settings.max_in_flight,
    )
    if reshaped:
        return spec
    stages = tuple(Stage(s.duration_s, s.rate_rps, s.users) for s in settings.stages)
    return with_stages(spec, stages)


def run_load_phase(
    ctx: RunContext,
    settings: LoadSettings,
    target_url: str,
    on_progress: Callable[[Any], None] | None = None,
    overrides: Mapping[str, Any] | None = None,
    gates: GateThresholds | None = None,
) -> LoadOutcome:
    """Run the load; with a profile file, ``overrides`` (LoadSpec fields given on the
    command line) replace the file's values. ``gates`` (default: the run's profile's): those
    marked abort_on_fail are judged while it runs and end it once one fails
    (:mod:`harness.phases.load_stop`)."""
    from harness.load import run_load
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate

    spec, stop_rule = _prepared(ctx, settings, target_url, overrides, gates)
    spec.validate()  # a spec the load would refuse is refused before the floor's seconds
    floor = measure_floor_phase(ctx, settings, spec) if settings.floor_enabled else None
    from harness.load.driver import LoadInterrupted

    try:
        result = run_load(spec, progress=on_progress, stop_rule=stop_rule)
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
                    floor,
                )
            )
            ctx.say(
                f"load: interrupted after {partial.requests} requests "
                f"({partial.duration_s:.1f} s): kept, marked interrupted"
            )
        raise stopped.cause from None
    if settings.prove_success is not None:
        result = _with_proof(ctx, result, settings.prove_success, spec.max_requests)
    histogram = decode_histogram(result.histogram)
    outcome = LoadOutcome(
        result, percentile_estimate(histogram, 0.95), percentile_estimate(histogram, 0.99), floor
    )
    ctx.state.record(load=outcome)
    # the whole merged histogram beside the report: what a later run is compared with
    from harness.baseline import HISTOGRAM_FILE

    (ctx.state.run_dir / HISTOGRAM_FILE).write_text(result.histogram + "\n", encoding="utf-8")
    say_load_result(ctx, result, outcome)
    return outcome


def _with_proof(
    ctx: RunContext, result: LoadResult, target: float, budget: int | None
) -> LoadResult:
    """``result`` with where its claim of request success >= ``target`` stands, said."""
    from harness.phases.load_stop import proof_of

    proof = proof_of(target, budget, result.requests, result.failures, result.duration_s)
    good = proof.requests - proof.failures
    ctx.say(
        f"load: request success >= {target}: {proof.outcome} ({good:,}/{proof.requests:,} in "
        f"{proof.duration_s:.1f} s, one-sided 95% lower bound {proof.lower_bound:.7f}"
        + (f"; {proof.requests_needed:,} more clean requests needed)" if proof.requests_needed
           else ")")
    )  # fmt: skip
    return dataclasses.replace(result, proof=proof)


def _prepared(
    ctx: RunContext,
    settings: LoadSettings,
    target_url: str,
    overrides: Mapping[str, Any] | None,
    gates: GateThresholds | None,
) -> tuple[LoadSpec, StopRule | None]:
    """The spec to run and the rule that may end it early (abort_on_fail, the proof), said."""
    from harness.phases.load_stop import abort_rule, first_of, proof_rule, wants_live_progress

    spec = load_spec(settings, target_url, overrides)
    stop_rule = None
    if gates is None and ctx.state.config is not None:
        gates = ctx.state.config.profile.gates
    if gates is not None and wants_live_progress(gates):
        spec = dataclasses.replace(spec, live_progress=True)
        stop_rule = abort_rule(gates)
    if settings.prove_success is not None:
        stop_rule = first_of(stop_rule, proof_rule(settings.prove_success, spec.max_requests))
    if spec.expect_workers:
        ctx.say(
            f"load: Locust master on {spec.master_bind} waiting for {spec.expect_workers} "
            f"worker(s): reliable-test-runner load-worker --master {spec.master_bind}"
        )
    if spec.locustfile:
        how = (
            f"locustfile {spec.locustfile} (its users, wait_time and shape; closed model), "
            f"{spec.users} users unless its shape says, {spec.processes} process(es)"
        )
    elif spec.model == "open":
        how = (
            f"open model, {spec.mean_rate_rps:g} req/s intended, {spec.users} users, at most "
            f"{spec.max_in_flight} in flight"
        )
    else:
        how = f"closed model, {spec.users} users, each waiting for its reply"
    ctx.say(f"load: {how}, {spec.duration_s:g} s against {target_url}")
    return spec, stop_rule


def say_load_result(ctx: RunContext, result: LoadResult, outcome: LoadOutcome) -> None:
    """What the load sent and measured, on the console: the totals and p95, the floor's
    flags, an early stop, who generated it, the errors, each request of a mix."""
    dropped = f" ({result.dropped} of them dropped)" if result.model == "open" else ""
    ctx.say(
        f"load: {result.requests} requests, {result.failures} failed{dropped}, "
        f"{result.rps:.0f} req/s, p95 {outcome.p95.estimate_ms:.3f} ms ({result.model} model)"
    )
    if outcome.floor is not None:
        say_floor_flags(ctx, outcome.floor, result.latency_ms)
    if result.stopped_early is not None:
        early = result.stopped_early
        ctx.say(f"load: stopped early after {early.at_s:.1f} s: {early.reason}")
    from harness.report.load_section import load_engine_text  # in every report's words

    # the locustfile (or the generated user), the Locust processes, the workers that finished
    ctx.say(f"load: generated by {load_engine_text(result.to_json())}")
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


def measure_floor_phase(ctx: RunContext, settings: LoadSettings, spec: LoadSpec) -> GeneratorFloor:
    """The generator's floor for ``spec`` (its client, users, rate, processes), measured for
    ``settings.floor_duration_s`` against the null server, as the run's "floor" phase."""
    from harness.load.calibration import measure_floor

    with ctx.state.phase("floor"):
        floor = measure_floor(spec, settings.floor_duration_s, say=ctx.say)
    p = floor.percentiles
    ctx.say(
        f"load: generator's floor ({floor.requests} requests, {floor.failures} failed, "
        f"{floor.rps:.0f} req/s against the null server{floor.workers_note}): "
        + ", ".join(f"{k} {_bounded(p[k])}" for k in ("p50", "p95", "p99"))
    )
    return floor


def say_floor_flags(
    ctx: RunContext, floor: GeneratorFloor, latency_ms: Mapping[str, float]
) -> None:
    """One console line per percentile of the target's at the generator's floor."""
    from harness.floor import AT_FLOOR, FLOOR_FACTOR

    for name, flagged in floor.flags(latency_ms).items():
        if flagged:
            ctx.say(
                f"load: {name} {latency_ms[name]:.3f} ms is within {FLOOR_FACTOR:g}x of the "
                f"floor's {floor.estimate_ms(name):.3f} ms: {AT_FLOOR}"
            )


def _bounded(est: Any) -> str:
    if est.low_ms is None or est.high_ms is None:
        return f"{est.estimate_ms:.3f} ms (too few samples for bounds)"
    return f"{est.estimate_ms:.3f} ms [{est.low_ms:.3f}, {est.high_ms:.3f}]"
