"""The HTML report's trend: this run among the earlier runs it can be compared with.

Like is compared with like: only runs with the same ``comparable`` key as this one (the
same command, profile, kind of target, target and test selection; harness.history) are
charted, the others are listed apart, with why they are not charted. The charts: the test
pass rate with its interval, load p95 and p99, throughput, the slowest experiment's p95
recovery, and the availability's lower bound; every point links to its run's own report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.history import comparable_key, history_line
from harness.report import views
from harness.report.charts import Chart, Dot, Segment, Tick, fmt_number, line_chart, scales, ticks
from harness.report.document import complete_history, interval_bounds
from harness.values import as_map as _map
from harness.values import as_number as _num
from harness.values import count_or_zero

__all__ = ["TrendRow", "build_trend"]

SHOWN = 20  # the newest comparable runs in the table


@dataclass(frozen=True, slots=True)
class TrendRow:
    run_id: str
    finished_at: str
    verdict: str
    git_commit: str
    k: int
    n: int
    pass_rate: Mapping[str, Any]  # the interval of k/n (document.complete_history)
    p95: float | None
    p99: float | None
    rps: float | None
    recovery_p95: float | None
    availability: float | None  # the lower bound
    href: str  # its own report, beside this one under reports/

    @property
    def rate(self) -> str:
        return (
            views.format_rate(min(self.k, self.n), self.n, self.pass_rate) if self.n else "no tests"
        )

    @property
    def interval(self) -> tuple[float, float, float] | None:
        """``(estimate, low, high)`` of the run's pass rate; None without tests."""
        bounds = interval_bounds(self.pass_rate)
        if not self.n or bounds is None:
            return None
        estimate = _num(self.pass_rate.get("estimate"))
        return (estimate if estimate is not None else self.k / self.n, *bounds)

    def shown(self, value: float | None) -> str:
        return "—" if value is None else fmt_number(value)


def _row(r: Mapping[str, Any]) -> TrendRow:
    run_id = str(r.get("run_id", "?"))
    return TrendRow(
        run_id=run_id,
        finished_at=str(r.get("finished_at", "") or ""),
        verdict=str(r.get("verdict", "?")),
        git_commit=str(r.get("git_commit", "") or "")[:12],
        k=min(count_or_zero(r.get("tests_passed")), count_or_zero(r.get("tests_n"))),
        n=count_or_zero(r.get("tests_n")),
        pass_rate=_map(r.get("tests_pass_rate")),
        p95=_num(r.get("load_p95_ms")),
        p99=_num(r.get("load_p99_ms")),
        rps=_num(r.get("load_rps")),
        recovery_p95=_num(r.get("chaos_recovery_p95_s")),
        availability=_num(r.get("availability_lower")),
        href=f"../{run_id}/index.html",
    )


def _pass_rate_chart(rows: Sequence[TrendRow]) -> Chart | None:
    cis = [(i, ci) for i, r in enumerate(rows) if (ci := r.interval) is not None]
    if len(rows) < 2 or not cis:
        return None
    x_runs = tuple(float(i) for i in range(len(rows)))
    lows = [low for _, (_, low, _) in cis] + [1.0]
    sx, sy, _, yt = scales(x_runs, lows, y_from_zero=False, x_pad=0.5)
    return Chart(
        title="Test pass rate per run (95% Clopper-Pearson interval)",
        x_label="run",
        y_label="pass rate",
        x_ticks=tuple(Tick(sx(i), str(i + 1)) for i in range(len(rows))),
        y_ticks=ticks(sy, yt),
        segments=tuple(Segment(sx(i), sy(lo), sx(i), sy(hi), "ci") for i, (_, lo, hi) in cis),
        dots=tuple(
            Dot(sx(i), sy(est), "dot-rate", f"{rows[i].run_id}: {rows[i].rate}", rows[i].href)
            for i, (est, _, _) in cis
        ),
    )


_SERIES: tuple[tuple[str, str, str, Callable[[TrendRow], float | None]], ...] = (
    ("Load p95 latency per run", "p95 (ms)", "ms", lambda r: r.p95),
    ("Load p99 latency per run", "p99 (ms)", "ms", lambda r: r.p99),
    ("Load throughput per run", "req/s", "req/s", lambda r: r.rps),
    ("Chaos recovery per run: the slowest experiment's p95", "p95 recovery (s)", "s",
     lambda r: r.recovery_p95),
    ("Availability per run: one-sided 95% lower bound", "available (lower bound)", "",
     lambda r: r.availability),
)  # fmt: skip


def _series_chart(
    rows: Sequence[TrendRow], title: str, y_label: str, unit: str, value: Callable[[TrendRow], Any]
) -> Chart | None:
    points = [(float(i), v) for i, r in enumerate(rows) if (v := value(r)) is not None]
    if len(rows) < 2 or not points:
        return None
    tips = [f"{rows[int(x)].run_id}: {fmt_number(y)} {unit}".rstrip() for x, y in points]
    chart = line_chart(title, "run", y_label, points, tips, len(rows))
    dots = tuple(
        Dot(d.x, d.y, d.css, d.title, rows[int(x)].href)
        for d, (x, _) in zip(chart.dots, points, strict=True)
    )
    return replace(chart, dots=dots)


def build_trend(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """This run and the earlier runs comparable with it: rows, charts, and the runs listed
    apart (another command, profile, target or selection)."""
    runs = [dict(_map(h)) for h in history]
    run_id = report.get("run_id")
    if run_id is not None and all(r.get("run_id") != run_id for r in runs):
        runs.append(history_line(report))
    key = comparable_key(report)
    like = [r for r in runs if r.get("comparable") == key]
    apart = [r for r in runs if r.get("comparable") != key]
    rows = [_row(r) for r in complete_history(like)]
    charts = [c for c in [_pass_rate_chart(rows)] if c is not None]
    charts += [c for s in _SERIES if (c := _series_chart(rows, *s)) is not None]
    others = [
        (str(r.get("run_id", "?")), str(r.get("command") or "?"), str(r.get("profile") or "?"),
         str(r.get("verdict") or "?"), f"../{r.get('run_id')}/index.html")
        for r in apart[-SHOWN:]
    ]  # fmt: skip
    return {
        "rows": rows[-SHOWN:],
        "charts": charts,
        "count": len(rows),
        "others": others,
        "others_count": len(apart),
    }
