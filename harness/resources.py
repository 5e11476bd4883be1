"""The target's memory and CPU, from samples of its process tree: per phase, a leak check,
and the gates on them. Pure: the samples come from :mod:`harness.resource_sampler`.

Each sample holds the tree's resident memory, the CPU seconds it used since the sample
before, its threads and open file descriptors. From them, per phase of the run (and over
all of it):

- RSS: the peak and the p95 of the samples (a peak between two samples can be missed: the
  sampling interval is stated beside every figure);
- CPU: the mean over the phase, CPU seconds over wall seconds (a total, not an estimate),
  as a percentage of one core and of the machine, and the p95 of the per-interval values;
- threads and open file descriptors: the peak.

The leak check fits RSS against time by least squares over the load phase (the soak's, in a
soak) and bounds the slope, in MB per minute, with its two-sided 95% interval (Student t on
n - 2 degrees of freedom). Its assumption is stated: independent residuals; memory that
moves in steps (allocator arenas, caches) makes them correlated, and the interval then
narrower than it should be, so the gate needs at least :data:`MIN_GROWTH_SAMPLES`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "CPU_BASIS_OF",
    "MIN_GROWTH_SAMPLES",
    "Growth",
    "PhaseUsage",
    "ResourceSample",
    "ResourceUsage",
    "analyse_resources",
]

MIN_GROWTH_SAMPLES = 20
# a CPU percentage's basis, as the console and the gates say it: "42% of the machine"
CPU_BASIS_OF = {"machine": "the machine", "core": "one core"}
_MB = 1024 * 1024
_TIMELINE_POINTS = 600  # the report's chart keeps at most this many points


@dataclass(frozen=True, slots=True)
class ResourceSample:
    t: float  # epoch seconds
    rss_bytes: int  # the whole tree's resident memory
    cpu_s: float  # CPU seconds (user + system) the tree used since the sample before
    threads: int
    fds: int | None  # open file descriptors (None where they cannot be read)
    processes: int
    down: bool = False  # the target was not running at this sample


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class PhaseUsage:
    """One phase's figures (``name`` "run" for the whole run)."""

    name: str
    samples: int
    seconds: float
    rss_peak_mb: float
    rss_p95_mb: float
    cpu_mean_core_pct: float  # CPU seconds / wall seconds x 100: 100 = one core busy
    cpu_p95_core_pct: float
    threads_peak: int
    fds_peak: int | None

    def to_json(self, cpu_count: int) -> dict[str, object]:
        return {
            "name": self.name,
            "samples": self.samples,
            "seconds": round(self.seconds, 3),
            "rss_peak_mb": round(self.rss_peak_mb, 3),
            "rss_p95_mb": round(self.rss_p95_mb, 3),
            "cpu_mean_core_pct": round(self.cpu_mean_core_pct, 3),
            "cpu_mean_machine_pct": round(self.cpu_mean_core_pct / cpu_count, 3),
            "cpu_p95_core_pct": round(self.cpu_p95_core_pct, 3),
            "threads_peak": self.threads_peak,
            "fds_peak": self.fds_peak,
        }


@dataclass(frozen=True, slots=True)
class Growth:
    """RSS slope over a phase by least squares, with its two-sided 95% interval."""

    phase: str
    samples: int
    slope_mb_per_min: float
    low: float
    high: float

    def to_json(self) -> dict[str, object]:
        return {
            "phase": self.phase,
            "samples": self.samples,
            "slope_mb_per_min": round(self.slope_mb_per_min, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "confidence": 0.95,
            "method": "least squares of RSS on time; Student t interval on n - 2 df",
            "assumption": "independent residuals (memory that moves in steps makes the "
            f"interval too narrow: the gate needs >= {MIN_GROWTH_SAMPLES} samples)",
        }


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """The analysed samples: the run, each phase, the leak check, and how it was sampled."""

    source: str  # "psutil: pid 1234 and its children" / "prometheus: URL/metrics"
    interval_s: float
    cpu_count: int
    run: PhaseUsage | None
    phases: tuple[PhaseUsage, ...]
    growth: Growth | None
    down_samples: int
    samples: tuple[ResourceSample, ...] = field(default=(), repr=False)
    load_phase: str | None = None  # the phase "under normal load" (load, or soak)
    cpu_basis: str = "machine"  # what a CPU percentage means: of the machine, or of one core

    def cpu_pct(self, usage: PhaseUsage, basis: str | None = None) -> float:
        """``usage``'s mean CPU on ``basis`` ("machine" or "core"; this run's by default)."""
        core = usage.cpu_mean_core_pct
        return core / self.cpu_count if (basis or self.cpu_basis) == "machine" else core

    @property
    def under_load(self) -> PhaseUsage | None:
        return next((p for p in self.phases if p.name == self.load_phase), None)

    def to_json(self, origin_epoch: float | None = None) -> dict[str, object]:
        up = [s for s in self.samples if not s.down]
        base = origin_epoch if origin_epoch is not None else (up[0].t if up else 0.0)
        step = max(1, math.ceil(len(up) / _TIMELINE_POINTS))
        timeline = []
        for i in range(0, len(up), step):
            chunk = up[i : i + step]
            seconds = chunk[-1].t - (up[i - 1].t if i else chunk[0].t)
            cpu = sum(s.cpu_s for s in chunk) / seconds * 100 if seconds > 0 else 0.0
            timeline.append(
                {
                    "t_s": round(chunk[-1].t - base, 3),
                    "rss_mb": round(max(s.rss_bytes for s in chunk) / _MB, 3),
                    "cpu_core_pct": round(cpu, 2),
                }
            )
        return {
            "source": self.source,
            "interval_s": self.interval_s,
            "cpu_count": self.cpu_count,
            "cpu_basis": self.cpu_basis,
            "samples": len(self.samples),
            "down_samples": self.down_samples,
            "under_load": self.load_phase,
            "run": self.run.to_json(self.cpu_count) if self.run else None,
            "phases": [p.to_json(self.cpu_count) for p in self.phases],
            "rss_growth": self.growth.to_json() if self.growth else None,
            "timeline": timeline,
            "timeline_origin_epoch": round(base, 3),
        }


def _usage(name: str, samples: Sequence[ResourceSample], start: float, end: float) -> PhaseUsage:
    up = [s for s in samples if not s.down]
    # each sample's CPU is what was used in the interval that ends at it
    intervals = [(b.cpu_s, b.t - a.t) for a, b in zip(up, up[1:], strict=False) if b.t > a.t]
    busy = sum(c for c, _ in intervals)
    wall = sum(w for _, w in intervals)
    per = [c / w * 100 for c, w in intervals]
    fds = [s.fds for s in up if s.fds is not None]
    return PhaseUsage(
        name=name,
        samples=len(up),
        seconds=max(0.0, end - start),
        rss_peak_mb=max(s.rss_bytes for s in up) / _MB,
        rss_p95_mb=_p95([s.rss_bytes / _MB for s in up]),
        cpu_mean_core_pct=busy / wall * 100 if wall > 0 else 0.0,
        cpu_p95_core_pct=_p95(per) if per else 0.0,
        threads_peak=max(s.threads for s in up),
        fds_peak=max(fds) if fds else None,
    )


def _growth(phase: str, samples: Sequence[ResourceSample]) -> Growth | None:
    up = [s for s in samples if not s.down]
    if len(up) < 3 or up[-1].t - up[0].t <= 0:
        return None
    from scipy import stats as scipy_stats  # heavy import, only when analysing

    t0 = up[0].t
    xs, ys = [(s.t - t0) / 60 for s in up], [s.rss_bytes / _MB for s in up]
    if len(set(ys)) == 1:  # not one byte moved: the slope is 0, exactly
        return Growth(phase, len(up), 0.0, 0.0, 0.0)
    fit = scipy_stats.linregress(xs, ys)
    margin = float(scipy_stats.t.ppf(0.975, len(up) - 2)) * float(fit.stderr)
    slope = float(fit.slope)
    return Growth(phase, len(up), slope, slope - margin, slope + margin)


def analyse_resources(
    samples: Sequence[ResourceSample],
    *,
    source: str,
    interval_s: float,
    cpu_count: int,
    phases: Sequence[tuple[str, float, float]] = (),
    cpu_basis: str = "machine",
) -> ResourceUsage:
    """The figures of ``samples`` over the run and over each of ``phases`` (name, start and
    end epoch seconds); the leak check over the load phase (or the soak)."""
    ordered = sorted(samples, key=lambda s: s.t)
    up = [s for s in ordered if not s.down]
    run = _usage("run", ordered, up[0].t, up[-1].t) if up else None
    per_phase: list[PhaseUsage] = []
    inside: dict[str, list[ResourceSample]] = {}
    for name, start, end in phases:
        within = [s for s in ordered if start <= s.t <= end]
        if any(not s.down for s in within):
            inside[name] = within
            per_phase.append(_usage(name, within, start, end))
    load_phase = next((n for n in ("load", "soak") if n in inside), None)
    growth = _growth(load_phase, inside[load_phase]) if load_phase else None
    return ResourceUsage(
        source=source,
        interval_s=interval_s,
        cpu_count=cpu_count,
        run=run,
        phases=tuple(per_phase),
        growth=growth,
        down_samples=sum(1 for s in ordered if s.down),
        samples=tuple(ordered),
        load_phase=load_phase,
        cpu_basis=cpu_basis,
    )
