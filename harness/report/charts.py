"""The charts of the HTML report as geometry: pure arithmetic on the report's numbers,
in SVG user units, drawn by the jinja2 macros in ``templates/charts.html.j2``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.values import as_number

__all__ = [
    "BOTTOM",
    "HEIGHT",
    "TOP",
    "Chart",
    "Dot",
    "Label",
    "Polyline",
    "Rect",
    "Segment",
    "Tick",
    "bar_chart",
    "fmt_number",
    "line_chart",
    "polyline",
    "scales",
    "ticks",
]

# Chart canvas in SVG user units; the page scales it to the column width.
WIDTH, HEIGHT = 720.0, 220.0
LEFT, RIGHT, TOP, BOTTOM = 60.0, 16.0, 14.0, 34.0


# ------------------------------------------------------------------------ chart model


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick, or (with ``css``) a labelled vertical marker line at ``pos``."""

    pos: float
    label: str
    css: str = ""


@dataclass(frozen=True, slots=True)
class Polyline:
    points: str
    css: str
    name: str


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    css: str
    title: str
    href: str = ""  # a link (the trend's points link to their run's report)


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    """A text at ``(x, y)``, anchored at its start, middle or end."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = "lane-label"


@dataclass(frozen=True, slots=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the SVG macro needs, already in canvas coordinates."""

    title: str
    x_label: str
    y_label: str
    width: float = WIDTH
    height: float = HEIGHT
    x_ticks: tuple[Tick, ...] = ()
    y_ticks: tuple[Tick, ...] = ()
    lines: tuple[Polyline, ...] = ()
    dots: tuple[Dot, ...] = ()
    rects: tuple[Rect, ...] = ()
    bands: tuple[Rect, ...] = ()
    markers: tuple[Tick, ...] = ()
    segments: tuple[Segment, ...] = ()
    labels: tuple[Label, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()  # (css class, label)
    plot_left: float = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_top: float = TOP
    plot_bottom: float = HEIGHT - BOTTOM


def _niceticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (Heckbert's "nice numbers")."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


@dataclass(slots=True)
class _Scale:
    """Linear map from data to canvas; y grows downward in SVG."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return round(self.a + (value - self.lo) / span * (self.b - self.a), 2)


def _half_step(xs: Sequence[float]) -> float:
    """Half the smallest gap between x values: room for a bar or category at each end."""
    ordered = sorted(set(xs))
    return min((b - a for a, b in zip(ordered, ordered[1:], strict=False)), default=1.0) / 2


def scales(
    xs: Sequence[float], ys: Sequence[float], y_from_zero: bool = True, x_pad: float = 0.0
) -> tuple[_Scale, _Scale, list[float], list[float]]:
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_hi == x_lo and not x_pad:
        x_hi = x_lo + 1.0
    y_lo = 0.0 if y_from_zero or not ys else min(ys)
    y_hi = max(ys) if ys else 1.0
    y_ticks = _niceticks(y_lo, y_hi if y_hi > y_lo else y_lo + 1.0)
    y_lo, y_hi = min(y_ticks[0], y_lo), max(y_ticks[-1], y_hi)
    x_ticks = _niceticks(x_lo, x_hi)
    x_ticks = [t for t in x_ticks if x_lo <= t <= x_hi] or [x_lo, x_hi]
    sx = _Scale(x_lo - x_pad, x_hi + x_pad, LEFT, WIDTH - RIGHT)
    sy = _Scale(y_lo, y_hi, HEIGHT - BOTTOM, TOP)
    return sx, sy, x_ticks, y_ticks


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    points: Sequence[tuple[float, float]],
    tips: list[str],
    runs: int = 0,
) -> Chart:
    """A line with hover dots; with ``runs``, x is the run index 0..runs-1, labelled 1..runs."""
    xs = [0.0, float(runs - 1)] if runs else [x for x, _ in points]
    sx, sy, xt, yt = scales(xs, [y for _, y in points], x_pad=0.5 if runs else 0.0)
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_ticks=tuple(Tick(sx(i), str(i + 1)) for i in range(runs)) if runs else ticks(sx, xt),
        y_ticks=ticks(sy, yt),
        lines=(Polyline(polyline(points, sx, sy), "line-lat", y_label),),
        dots=tuple(
            Dot(sx(x), sy(y), "dot-lat", tip) for (x, y), tip in zip(points, tips, strict=True)
        ),
    )


def ticks(scale: _Scale, values: Sequence[float]) -> tuple[Tick, ...]:
    return tuple(Tick(scale(v), fmt_number(v)) for v in values)


def polyline(points: Sequence[tuple[float, float]], sx: _Scale, sy: _Scale) -> str:
    return " ".join(f"{sx(x)},{sy(y)}" for x, y in points)


def fmt_number(value: Any, digits: int = 4) -> str:
    """Numbers for people: integers without decimals, others to ``digits`` significant."""
    number = as_number(value)
    if number is None:
        return "—" if value is None else str(value)
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.{digits}g}" if abs(number) >= 1 else f"{number:.{digits}g}"


def _bars(
    values: Sequence[tuple[float, int]], sx: _Scale, sy: _Scale, css: str, unit: str, label: str
) -> tuple[Rect, ...]:
    step = 2 * _half_step([x for x, _ in values])
    width = max(1.0, round(abs(sx(step) - sx(0.0)) * 0.8, 2))
    return tuple(
        Rect(
            sx(x) - width / 2,
            sy(y),
            width,
            round(sy(0) - sy(y), 2),
            css,
            f"{fmt_number(x)} {unit}: {fmt_number(y)} {label}",
        )
        for x, y in values
    )


def bar_chart(
    title: str, x_label: str, y_label: str, values: Sequence[tuple[float, int]], css: str
) -> Chart:
    xs = [x for x, _ in values]
    sx, sy, xt, yt = scales(xs, [float(y) for _, y in values], x_pad=_half_step(xs))
    unit, what = x_label.split(" (")[-1].rstrip(")"), y_label
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_ticks=ticks(sx, xt),
        y_ticks=ticks(sy, yt),
        rects=_bars(values, sx, sy, css, unit, what),
    )
