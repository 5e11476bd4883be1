"""The report's section on the target's memory and CPU: display strings for every format
and the HTML charts (RSS and CPU over time, the phases shaded), read from report.json's
``resources`` (:mod:`harness.resources` wrote it). Reads only: nothing is computed anew."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    Chart,
    Label,
    Polyline,
    Rect,
    polyline,
    scales,
    ticks,
)
from harness.report.views import significant
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import as_number as _num

__all__ = ["ResourceRow", "ResourceView", "resource_charts", "resource_view"]


@dataclass(frozen=True, slots=True)
class ResourceRow:
    phase: str
    samples: str
    rss: str  # "peak 81.2 MB, p95 80.9 MB"
    cpu: str  # "mean 23.4% of one core (11.7% of the machine), p95 40.1%"
    threads: str
    fds: str


@dataclass(frozen=True, slots=True)
class ResourceView:
    source: str  # what was sampled, and every how often
    peak: str  # "81.2 MB peak RSS"
    under_load: str  # "11.7% of the machine, mean over the load phase" or "no load phase"
    growth: str  # "+0.12 MB/min [-0.3, +0.5] over the load phase" or ""
    growth_note: str
    down: str  # "the target was down at 3 sample(s)" or ""
    rows: tuple[ResourceRow, ...]


def _row(p: Mapping[str, Any]) -> ResourceRow:
    fds = p.get("fds_peak")
    return ResourceRow(
        phase=str(p.get("name") or "-"),
        samples=str(p.get("samples") or 0),
        rss=(
            f"peak {significant(p.get('rss_peak_mb'), 4)} MB, "
            f"p95 {significant(p.get('rss_p95_mb'), 4)} MB"
        ),
        cpu=(
            f"mean {significant(p.get('cpu_mean_core_pct'))}% of one core "
            f"({significant(p.get('cpu_mean_machine_pct'))}% of the machine), "
            f"p95 {significant(p.get('cpu_p95_core_pct'))}% of one core"
        ),
        threads=str(p.get("threads_peak") if p.get("threads_peak") is not None else "-"),
        fds="-" if fds is None else str(fds),
    )


def resource_view(report: Mapping[str, Any]) -> ResourceView | None:
    r = _map(report.get("resources"))
    if not r:
        return None
    run = _map(r.get("run"))
    phases = [_map(p) for p in _list(r.get("phases"))]
    load_name = r.get("under_load")
    load = next((p for p in phases if p.get("name") == load_name), None)
    basis = str(r.get("cpu_basis") or "machine")
    if load is not None:
        key = "cpu_mean_machine_pct" if basis == "machine" else "cpu_mean_core_pct"
        what = "the machine" if basis == "machine" else "one core"
        under_load = (
            f"{significant(load.get(key))}% of {what}, mean over the {load_name} phase "
            f"({significant(load.get('seconds'))} s)"
        )
    else:
        under_load = "no load phase in this run: CPU under load not measured"
    g = _map(r.get("rss_growth"))
    growth = ""
    if g:
        growth = (
            f"{_num(g.get('slope_mb_per_min')) or 0:+.3g} MB/min, 95% interval "
            f"[{_num(g.get('low')) or 0:+.3g}, {_num(g.get('high')) or 0:+.3g}] over the "
            f"{g.get('phase')} phase ({g.get('samples')} samples)"
        )
    down = _num(r.get("down_samples")) or 0
    return ResourceView(
        source=(
            f"{r.get('source')}, every {significant(r.get('interval_s'))} s, "
            f"{r.get('samples')} samples on {r.get('cpu_count')} cores"
        ),
        peak=f"{significant(run.get('rss_peak_mb'), 4)} MB" if run else "-",
        under_load=under_load,
        growth=growth,
        growth_note=str(g.get("method") or "") + (f"; {g.get('assumption')}" if g else ""),
        down=f"the target was down at {down:.0f} sample(s); they count as nothing" if down else "",
        rows=tuple(_row(p) for p in ([run] if run else []) + phases),
    )


def resource_charts(report: Mapping[str, Any]) -> tuple[Chart, ...]:
    """RSS and CPU over the run, on the run timeline's clock, with its phases shaded."""
    r = _map(report.get("resources"))
    points = [_map(p) for p in _list(r.get("timeline"))]
    points = [p for p in points if _num(p.get("t_s")) is not None]
    if len(points) < 2:
        return ()
    phases = [
        _map(s) for s in _list(_map(report.get("timeline")).get("spans"))
        if _map(s).get("lane") == "phase"
    ]  # fmt: skip
    charts = []
    for key, title, unit in (
        ("rss_mb", "Target memory (RSS of its process tree)", "RSS (MB)"),
        ("cpu_core_pct", "Target CPU (100 = one core busy)", "CPU (% of one core)"),
    ):
        series = [(_num(p.get("t_s")) or 0.0, _num(p.get(key)) or 0.0) for p in points]
        sx, sy, xt, yt = scales([x for x, _ in series], [y for _, y in series])
        bands, labels = [], []
        for index, s in enumerate(phases):
            a, b = _num(s.get("start_s")), _num(s.get("end_s"))
            if a is None or b is None:
                continue
            a, b = max(a, sx.lo), min(b, sx.hi)
            if b > a:
                name = str(s.get("name"))
                css = "lane-phase" if index % 2 == 0 else "lane-phase-alt"  # neighbours apart
                width = sx(b) - sx(a)
                bands.append(
                    Rect(sx(a), TOP, width, HEIGHT - BOTTOM - TOP, css,
                         f"{name}: {significant(a)}–{significant(b)} s")
                )  # fmt: skip
                if width > 7 * len(name):
                    labels.append(Label(sx(a) + width / 2, TOP + 12, name, "middle", "lane-text"))
        charts.append(
            Chart(
                title=title,
                x_label="seconds from "
                + str(_map(report.get("timeline")).get("origin") or "the first sample"),
                y_label=unit,
                x_ticks=ticks(sx, xt),
                y_ticks=ticks(sy, yt),
                lines=(Polyline(polyline(series, sx, sy), "line-probe", unit),),
                bands=tuple(bands),
                labels=tuple(labels),
                legend=(("lane-phase", "phase (named at the top)"),),
            )
        )
    return tuple(charts)
