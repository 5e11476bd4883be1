"""The target's memory and CPU, sampled beside every phase of a run
(:mod:`harness.resource_sampler`) and analysed per phase (:mod:`harness.resources`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from harness.config import ResourceSettings
from harness.resource_sampler import (
    MetricsSource,
    ProcessTreeSource,
    ResourceSampler,
    Source,
    read_samples,
)
from harness.resources import CPU_BASIS_OF, PhaseUsage, ResourceUsage, analyse_resources
from harness.session import RunContext
from harness.target import Target

__all__ = ["Sampled", "metrics_source", "sampled"]


@dataclass(slots=True)
class Sampled:
    """What the sampler saw: ``usage`` once it has ended, or as of the last :meth:`refresh`."""

    ctx: RunContext | None = None
    sampler: ResourceSampler | None = None
    settings: ResourceSettings | None = None
    usage: ResourceUsage | None = None
    why_not: str = ""  # why nothing is sampled, when nothing is

    def refresh(self) -> ResourceUsage | None:
        """Analyse the samples so far against the run's phases and record them."""
        if self.sampler is None or self.settings is None or self.ctx is None:
            return None
        samples = read_samples(self.sampler.out)
        if not samples:
            return None
        last = samples[-1].t
        spans = [(s.name, s.start, s.end or last) for s in self.ctx.state.outcome.spans]
        # the generator's floor runs first inside the load phase, against its own null
        # server: the target is idle then, so "under load" starts when the floor ends
        floor_ends = [e for n, _, e in spans if n == "floor"]
        spans = [
            (n, max([a, *(e for e in floor_ends if a <= e <= b)]) if n == "load" else a, b)
            for n, a, b in spans
        ]
        self.usage = analyse_resources(
            samples,
            source=self.sampler.source.description,
            interval_s=self.settings.interval_s,
            cpu_count=os.cpu_count() or 1,
            phases=spans,
            cpu_basis=self.settings.cpu_basis,
        )
        self.ctx.state.record(resources=self.usage)
        return self.usage


def metrics_source(url: str, settings: ResourceSettings) -> MetricsSource | None:
    """The target's Prometheus process metrics, when it serves them; else None."""
    if not settings.metrics_path:
        return None
    source = MetricsSource(url.rstrip("/") + settings.metrics_path)
    try:
        values = source.read()
    except Exception:  # noqa: BLE001 - any failure to read them means: no such source
        return None
    if "process_resident_memory_bytes" not in values:
        return None
    return source


def _source(target: Target, settings: ResourceSettings) -> tuple[Source | None, str]:
    if target.pid_of is not None:
        return ProcessTreeSource(target.pid_of), ""
    source = metrics_source(target.url, settings)
    if source is not None:
        return source, ""
    where = (
        f"no process metrics on {settings.metrics_path}"
        if settings.metrics_path
        else ("resources.metrics_path is unset")
    )
    return None, f"no --target-pid, and {where}"


@contextlib.contextmanager
def sampled(ctx: RunContext, settings: ResourceSettings, target: Target) -> Iterator[Sampled]:
    """Sample ``target`` for as long as the block runs; record what was seen, also when the
    block ends by an interruption or an error (every sample is kept)."""
    if not settings.enabled:
        yield Sampled(why_not="resources.enabled = false")
        return
    source, why_not = _source(target, settings)
    if source is None:
        ctx.say(f"resources: not sampled ({why_not})")
        yield Sampled(why_not=why_not)
        return
    ctx.say(f"resources: sampling {source.description} every {settings.interval_s:g} s")
    sampler = ResourceSampler(source, ctx.state.run_dir / "resources.jsonl", settings.interval_s)
    sampler.start()
    watch = Sampled(ctx, sampler, settings)
    try:
        yield watch
    finally:
        sampler.stop()
        usage = watch.refresh()
        if usage is not None and usage.run is not None:
            ctx.say(f"resources: {_said(usage)}")


def _said(usage: ResourceUsage) -> str:
    """The console's line: peak RSS, and the mean CPU over the load phase (the CPU gate's
    figure) and over the run, each on the gate's basis first and on the other beside it."""

    def cpu(phase: PhaseUsage) -> str:
        gate, other = ("machine", "core") if usage.cpu_basis == "machine" else ("core", "machine")
        return (
            f"{usage.cpu_pct(phase, gate):.1f}% of {CPU_BASIS_OF[gate]} "
            f"({usage.cpu_pct(phase, other):.1f}% of {CPU_BASIS_OF[other]})"
        )

    assert usage.run is not None
    load = usage.under_load
    during = f"over the {load.name} phase ({load.seconds:.1f} s) {cpu(load)}, " if load else ""
    return (
        f"peak RSS {usage.run.rss_peak_mb:.1f} MB; mean CPU {during}over the run "
        f"{cpu(usage.run)}; {usage.cpu_count} cores, {usage.run.samples} samples"
    )
