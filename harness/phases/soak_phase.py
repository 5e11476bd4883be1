"""A soak: low-rate load and the whole-run prober for a long, bounded time, with the profile's
chaos experiments injected on a schedule, and the run's report checkpointed every minute so
a soak that is killed keeps its evidence. It ends by itself at ``duration_s``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from harness.config import ResolvedConfig
from harness.record import ChaosOutcome, LoadOutcome
from harness.session import RunContext
from harness.target import Target

__all__ = ["CHECKPOINT_EVERY_S", "run_soak"]

CHECKPOINT_EVERY_S = 60.0
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
) -> tuple[LoadOutcome | None, ChaosOutcome | None]:
    """Load at ``rate_rps`` for ``duration_s``; every ``fault_every_s`` a round of the
    profile's chaos experiments (one injection each); ``checkpoint`` every minute."""
    from harness.load import start_load
    from harness.load.histogram import decode_histogram
    from harness.load.percentiles import percentile_estimate
    from harness.phases.chaos_phase import run_chaos_phase
    from harness.phases.load_phase import load_spec

    profile = config.profile
    settings = dataclasses.replace(
        load_spec(profile.load, target.url),
        rate_rps=rate_rps,
        duration_s=duration_s,
        max_requests=None,  # the soak is bounded by its duration
    )
    ctx.say(
        f"soak: {duration_s:g} s at {rate_rps:g} req/s against {target.url}"
        + (f", chaos every {fault_every_s:g} s" if fault_every_s else ", no faults")
    )
    handle = start_load(settings)
    chaos: ChaosOutcome | None = None
    start = time.monotonic()
    next_fault = start + fault_every_s if fault_every_s else None
    next_checkpoint = start + CHECKPOINT_EVERY_S
    rounds = 0
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
                checkpoint()  # what the prober saw so far, in report.json
                next_checkpoint = now + CHECKPOINT_EVERY_S
            time.sleep(_TICK_S)  # the soak's own pace; every wait here is bounded by duration_s
    finally:
        handle.stop()
        result = handle.wait(settings.request_timeout_s + 60.0)
        histogram = decode_histogram(result.histogram)
        load = LoadOutcome(
            result, percentile_estimate(histogram, 0.95), percentile_estimate(histogram, 0.99)
        )
        ctx.state.record(load=load)
    on_progress(duration_s, f"{result.requests} requests, {result.failures} failed")
    return load, chaos
