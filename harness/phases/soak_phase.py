"""A soak: low-rate load and the whole-run prober for a long, bounded time, with the profile's
chaos experiments injected on a schedule, and the run's report checkpointed every minute so
a soak that is killed keeps its evidence. It ends by itself at ``duration_s``. Before its
load, as before the load of ``load`` and ``gate``, the generator's noise floor is measured
at the soak's own rate (:func:`harness.phases.load_phase.measure_floor_phase`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import LoadSettings, Profile, ResolvedConfig
from harness.record import ChaosOutcome, LoadOutcome
from harness.session import RunContext
from harness.target import Target

if TYPE_CHECKING:
    from harness.floor import GeneratorFloor
    from harness.load import LoadHandle, LoadResult, LoadSpec

__all__ = ["CHECKPOINT_EVERY_S", "DEFAULT_RATE_RPS", "run_soak", "soak_spec"]

CHECKPOINT_EVERY_S = 60.0
DEFAULT_RATE_RPS = 20.0  # without --rate (a locustfile's users pace themselves instead)
_TICK_S = 1.0  # how often the loop looks at the clock, the load and the schedule


def run_soak(
    ctx: RunContext,
    config: ResolvedConfig,
    target: Target,
    *,
    duration_s: float,
    rate_rps: float,
    fault_every_s: float | None,
    checkpoint: Callable[[], object],
    on_progress: Callable[[float, str], None],
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
) -> tuple[LoadOutcome | None, ChaosOutcome | None]:
    """Load at ``rate_rps`` for ``duration_s`` (in one load process: a soak is low-rate, and
    one process can hand over what it measured so far); every ``fault_every_s`` a round of
    the profile's chaos experiments (one injection each); every ``checkpoint_every_s`` the
    load so far is recorded and ``checkpoint`` called (the prober's timeline so far). With
    ``load.floor_enabled`` the generator's floor is measured first, as a phase of its own."""
    from harness.phases.load_phase import load_spec, measure_floor_phase

    profile = config.profile
    settings = soak_spec(profile.load, target.url, rate_rps=rate_rps, duration_s=duration_s)
    pace = (
        f"of the locustfile {settings.locustfile} (its users pace themselves)"
        if settings.locustfile
        else f"at {rate_rps:g} req/s"
    )
    ctx.say(
        f"soak: {duration_s:g} s {pace} against {target.url}"
        + (f", chaos every {fault_every_s:g} s" if fault_every_s else ", no faults")
    )
    if load_spec(profile.load, target.url).stages:
        ctx.say("soak: the load's stages are not used: a soak sends at one rate (--rate)")
    floor = measure_floor_phase(ctx, profile.load, settings) if profile.load.floor_enabled else None
    with ctx.state.phase("soak"):
        return _soak(ctx, settings, profile, target, duration_s, fault_every_s,
                     checkpoint_every_s, checkpoint, on_progress, floor)  # fmt: skip


def soak_spec(
    settings: LoadSettings, target_url: str, *, rate_rps: float, duration_s: float
) -> LoadSpec:
    """The soak's load: what ``settings`` sends (its requests, a load file's ``[[requests]]``
    or a locustfile) at ``rate_rps`` for ``duration_s``, in one Locust process. The rate
    replaces a shape in stages, as ``--rate`` does for ``load``; a locustfile's users pace
    themselves (no intended rate)."""
    from harness.phases.load_phase import load_spec

    shape = {"rate_rps": rate_rps, "duration_s": duration_s}
    spec = load_spec(settings, target_url, shape)  # a rate given drops the stages
    return dataclasses.replace(
        spec,
        rate_rps=0.0 if spec.locustfile else rate_rps,
        duration_s=duration_s,
        stages=(),
        max_requests=None,  # the soak is bounded by its duration
        processes=1,  # one process, which can hand over what it measured so far
        expect_workers=0,
        master_bind=None,
    )


def _soak(
    ctx: RunContext,
    settings: LoadSpec,
    profile: Profile,
    target: Target,
    duration_s: float,
    fault_every_s: float | None,
    checkpoint_every_s: float,
    checkpoint: Callable[[], object],
    on_progress: Callable[[float, str], None],
    floor: GeneratorFloor | None,
) -> tuple[LoadOutcome | None, ChaosOutcome | None]:
    from harness.load import start_load
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate
    from harness.phases.chaos_phase import run_chaos_phase

    def outcome(result: LoadResult) -> LoadOutcome:
        histogram = decode_histogram(result.histogram)
        return LoadOutcome(
            result,
            percentile_estimate(histogram, 0.95),
            percentile_estimate(histogram, 0.99),
            floor,  # beside every checkpoint's percentiles, and the last
        )

    handle = start_load(settings, snapshot_every_s=checkpoint_every_s)
    chaos: ChaosOutcome | None = None
    start = time.monotonic()
    next_fault = start + fault_every_s if fault_every_s else None
    # a little after each load snapshot, so that every checkpoint carries a fresh one
    next_checkpoint = start + checkpoint_every_s + _TICK_S
    rounds = 0
    ended = False  # by the soak's clock: then the load ends by its own, a moment later
    try:
        while (elapsed := time.monotonic() - start) < duration_s and not handle.done():
            progress = handle.latest_progress
            on_progress(
                elapsed,
                f"{progress.requests if progress else 0} requests, "
                f"{progress.failures if progress else 0} failed, {rounds} fault round(s)",
            )
            now = time.monotonic()
            if next_fault is not None and now >= next_fault and duration_s - elapsed >= 5:
                rounds += 1
                chaos = run_chaos_phase(
                    ctx,
                    profile.chaos,
                    target.url,
                    injections=1,
                    base_dir=Path.cwd(),
                    external_target=not target.managed,
                    prior=chaos,
                )
                next_fault = time.monotonic() + (fault_every_s or 0)
            if now >= next_checkpoint:
                # what the load and the prober measured so far, in report.json
                partial = handle.snapshot()
                if partial is not None:
                    ctx.state.record(load=outcome(partial))
                checkpoint()
                next_checkpoint += checkpoint_every_s
            time.sleep(_TICK_S)  # the soak's own pace; every wait here is bounded by duration_s
        ended = True
    finally:
        result = _end_load(
            handle,
            stop=not ended,
            timeout_s=settings.request_timeout_s + 60.0,
            keep=lambda partial: ctx.state.record(load=outcome(partial)),
        )
        load = outcome(result)
        ctx.state.record(load=load)
    on_progress(duration_s, f"{result.requests} requests, {result.failures} failed")
    return load, chaos


def _end_load(
    handle: LoadHandle, *, stop: bool, timeout_s: float, keep: Callable[[LoadResult], object]
) -> LoadResult:
    """The soak's load, ended. Its clock started when its Locust process was up, a little
    after the soak's: at the soak's end it has that much left to send, so it is left to
    finish (its own duration bounds it) rather than stopped, which marked every soak's load
    interrupted. With ``stop`` (an error or an interrupt) it stops now, with what it
    measured so far; an interrupt while it finishes stops it too, and ``keep`` records what
    it measured before the interrupt goes on."""
    if stop:
        handle.stop()
    try:
        return handle.wait(timeout_s)
    except KeyboardInterrupt:
        handle.stop()
        keep(handle.wait(timeout_s))
        raise
