"""The whole-run watch: the prober (:mod:`harness.prober`) runs beside every phase of a
gate, and its timeline becomes the run's availability (:mod:`harness.availability`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

from harness.availability import Availability, ProbePoint, analyse_probes
from harness.config import AvailabilitySettings, TargetSettings
from harness.prober import WholeRunProber, read_timeline
from harness.session import RunContext
from harness.target import Target

__all__ = ["REFERENCE_PROBE_PATH", "Watch", "watched"]

REFERENCE_PROBE_PATH = "/api/v0/ping"  # the reference API's liveness path


@dataclass(slots=True)
class Watch:
    """What the watch saw: ``availability`` once it has ended, or as of the last
    :meth:`refresh` (a soak's checkpoints)."""

    availability: Availability | None = None
    ctx: RunContext | None = None
    prober: WholeRunProber | None = None
    settings: AvailabilitySettings | None = None
    objective: float | None = None

    def refresh(self) -> Availability | None:
        """Analyse the timeline recorded so far and record it in the run (a checkpoint)."""
        if self.prober is None or self.settings is None or self.ctx is None:
            return None
        timeline = read_timeline(self.prober.out)
        if not timeline:
            return None
        t0 = timeline[0].t
        self.availability = analyse_probes(
            [ProbePoint(p.t - t0, p.ok) for p in timeline],
            interval_s=self.settings.interval_s,
            assumed_outage_s=self.settings.assumed_outage_s,
            origin_epoch=t0,
        )
        self.ctx.state.record(availability=self.availability, availability_objective=self.objective)
        return self.availability


def _probe(
    settings: AvailabilitySettings, target_settings: TargetSettings, target: Target
) -> tuple[str | None, tuple[int, ...]]:
    """The path (None: a TCP connect) and the statuses the prober expects."""
    if settings.path:
        return settings.path, tuple(target_settings.ready_status)
    if target.managed:
        return REFERENCE_PROBE_PATH, (200,)
    return target_settings.ready_path, tuple(target_settings.ready_status)


@contextlib.contextmanager
def watched(
    ctx: RunContext,
    settings: AvailabilitySettings,
    target_settings: TargetSettings,
    target: Target,
    objective: float | None,
) -> Iterator[Watch]:
    """Probe ``target`` for as long as the block runs; record the availability it saw,
    also when the block ends by an interruption or an error (what was seen is kept)."""
    watch = Watch()
    if not settings.enabled:
        yield watch
        return
    path, statuses = _probe(settings, target_settings, target)
    if path:  # a path the target does not serve is a config error now, not a run of outages
        from harness.readiness import ReadinessCheck, wait_until_ready

        source = "availability.path" if settings.path else "target.ready_path"
        wait_until_ready(target.url, ReadinessCheck(path, statuses, 10.0, source=source))
    what = f"GET {path}" if path else "a TCP connect"
    ctx.say(
        f"availability: probing {target.url} ({what}) every {settings.interval_s:g} s for the "
        "whole run"
    )
    prober = WholeRunProber(
        target.url,
        ctx.state.run_dir / "probes.jsonl",
        path=path,
        statuses=statuses,
        interval_s=settings.interval_s,
        timeout_s=settings.timeout_s,
    )
    prober.start()
    watch = Watch(None, ctx, prober, settings, objective)
    try:
        yield watch
    finally:
        prober.stop()
        a = watch.refresh()
        if a is not None:
            ctx.say(
                f"availability: {a.probes} probes over {a.observed_s:.0f} s, "
                f"{len(a.outages)} outage(s), {a.downtime_s:.1f} s down; lower bound "
                f"{math.floor(a.lower * 1e6) / 1e6:.6f} (outages as events; with none seen, "
                f"each is assumed to last {a.bound_outage_s:g} s){_restarts(prober.restarts)}"
            )


def _restarts(count: int) -> str:
    return f"; the prober was restarted {count} time(s), its gaps not counted" if count else ""
