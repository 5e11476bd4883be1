"""One self-contained HTML report from report.json content.

The page opens offline: styles are inline, charts are inline SVG whose geometry
:mod:`harness.report.charts` computes (pure arithmetic on the report's numbers) and the
jinja2 macros in ``templates/charts.html.j2`` draw. Everything from the report goes through jinja2's
autoescaping, so a test id like ``test_x[<script>]`` is shown, never run.

Honest numbers: every rate on the page is shown as ``k/n [low, high]`` with its method,
read from the completed report (:func:`harness.report.document.complete` derives, once,
what report.json does not carry); nothing is computed here.
A report of an interrupted or crashed run may lack any section; each is drawn only when
its data is there, and the page says what is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from harness.report import load_section, views
from harness.report.api_coverage_section import api_coverage_view
from harness.report.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    Chart,
    Dot,
    Label,
    Polyline,
    Rect,
    Tick,
    bar_chart,
    fmt_number,
    line_chart,
    polyline,
    scales,
    ticks,
)
from harness.report.coverage_section import coverage_view
from harness.report.document import complete
from harness.report.floor_section import floor_view
from harness.report.fuzz_section import fuzz_view
from harness.report.regression_section import regression_view
from harness.report.resource_section import resource_charts, resource_view
from harness.report.security_section import security_view
from harness.report.trend_section import build_trend
from harness.values import as_list as _list
from harness.values import as_map as _map
from harness.values import as_number as _num
from harness.values import count_or_zero

__all__ = ["render_html"]

_PCTS = ("p50", "p95", "p99", "max")
_HEADER_KEYS = (
    "schema", "run_id", "status", "verdict", "started_at", "finished_at",
    "profile", "target_url", "error", "exit_code", "git_commit",
)  # fmt: skip

# ----------------------------------------------------------------------- value helpers


def _rate(k: int, n: int, interval: Any) -> str:
    """``"k/n [low, high] (95% CP)"``, with the completed report's interval."""
    return views.format_rate(min(k, n), n, interval)


# ----------------------------------------------------------------------- view builders


def _runs_of(outcomes: Sequence[str]) -> list[tuple[int, int, str]]:
    """Run-length ``(start, length, outcome)``: thousands of repeats stay a few SVG rects."""
    runs: list[tuple[int, int, str]] = []
    for i, outcome in enumerate(outcomes):
        if runs and runs[-1][2] == outcome:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, outcome)
        else:
            runs.append((i, 1, outcome))
    return runs


def _test_rows(tests: Sequence[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for raw in tests:
        t = _map(raw)
        n, passed = count_or_zero(t.get("n")), count_or_zero(t.get("passed"))
        passed = min(passed, n)
        failure_rate = (n - passed) / n if n else -1.0  # no evidence sorts last
        outcomes = [str(o) for o in _list(t.get("outcomes"))]
        flaky = bool(t.get("flaky")) or (0 < passed < n)
        durations = _map(t.get("duration_s"))
        rows.append(
            {
                "nodeid": str(t.get("nodeid", "?")),
                "n": n,
                "passed": passed,
                "failed": count_or_zero(t.get("failed")),
                "errors": count_or_zero(t.get("errors")),
                "timeouts": count_or_zero(t.get("timeouts")),
                "flaky": flaky,
                "failure_rate": failure_rate,
                "cp": _rate(passed, n, t.get("pass_rate")),
                "wilson": _rate(passed, n, t.get("wilson")),
                "jeffreys": _rate(passed, n, t.get("jeffreys")),
                "trials_needed": views.trials_needed_text(t),
                "failure": views.failure_line(t),
                "durations": {k: fmt_number(durations.get(k)) for k in ("p50", "p95", "max")}
                if durations
                else None,
                "outcomes": _runs_of(outcomes),
                "n_outcomes": len(outcomes),
            }
        )
    rows.sort(key=lambda r: (-r["failure_rate"], r["nodeid"]))
    return rows


def _load_view(load: Mapping[str, Any]) -> dict[str, Any] | None:
    if not load:
        return None
    requests, failures = count_or_zero(load.get("requests")), count_or_zero(load.get("failures"))
    latency = _map(load.get("latency_ms"))  # p50..max first, then any others it has
    timeline = [_map(p) for p in _list(load.get("timeline"))]
    charts: list[Chart] = []
    lat_points = [
        (t, v)
        for p in timeline
        if (t := _num(p.get("t_s"))) is not None and (v := _num(p.get("p95_ms"))) is not None
    ]
    if lat_points:
        tips = [f"t={fmt_number(x)} s: p95 {fmt_number(y)} ms" for x, y in lat_points]
        title = "Latency over time (p95 per interval)"
        charts.append(line_chart(title, "time (s)", "p95 (ms)", lat_points, tips))
    err_points = [
        (t, count_or_zero(p.get("failures")))
        for p in timeline
        if (t := _num(p.get("t_s"))) is not None
    ]
    if err_points:
        title = "Errors over time (failed requests per interval)"
        charts.append(bar_chart(title, "time (s)", "failures", err_points, "bar-err"))
    histogram = [
        (v, count_or_zero(b.get("count")))
        for b in map(_map, _list(load.get("histogram")))
        if (v := _num(b.get("latency_ms"))) is not None
    ]
    if histogram:
        title = "Latency distribution"
        charts.append(bar_chart(title, "latency (ms)", "requests", histogram, "bar-hist"))
    errors = sorted(
        ((str(msg), count_or_zero(count)) for msg, count in _map(load.get("errors")).items()),
        key=lambda item: -item[1],
    )
    return {
        "requests": fmt_number(requests),
        "failures": fmt_number(failures),
        "error_rate": _rate(failures, requests, load.get("error_interval"))
        if requests
        else "no requests",
        "rps": fmt_number(load.get("rps")),
        "latency": [
            (str(k), fmt_number(latency.get(k))) for k in dict.fromkeys([*_PCTS, *latency])
        ],
        "charts": charts,
        "errors": errors,
        "requests_by_name": load_section.request_rows(load),
        "interrupted": load.get("interrupted") is True,
        "model": load_section.load_model_text(load),
        "engine": load_section.load_engine_text(load),
        # the open model's: requests due while max_in_flight were out (closed: none)
        "dropped": fmt_number(count_or_zero(load.get("dropped")))
        if load.get("model") != "closed"
        else None,
        "stopped": load_section.load_stop_text(load),
        "proof": load_section.load_proof_text(load),
    }


def _chaos_view(experiments: Sequence[Any]) -> list[dict[str, Any]]:
    """Per experiment: its figures over injections (shared with summary.md) and its chart."""
    out = []
    for raw, row in zip(experiments, views.chaos_rows(experiments), strict=True):
        e = _map(raw)
        recovery = _map(e.get("recovery"))
        out.append(
            {
                "row": row,
                "recovered": e.get("recovered") if row.ran else None,
                "effect_observed": e.get("effect_observed") if row.ran else None,
                "phases": [
                    (label, views.significant(recovery.get(key)))
                    for key, label in (
                        ("detect_s", "detection"),
                        ("recover_s", "recovery"),
                        ("total_s", "total"),
                    )
                    if recovery.get(key) is not None
                ],
                "chart": _chaos_chart(e),
            }
        )
    return out


_LANES = (
    ("phase", "phases"),
    ("fault", "faults"),
    ("outage", "outages"),
)
_LANE_H, _LANE_GAP = 26.0, 8.0


def _run_timeline(report: Mapping[str, Any]) -> Chart | None:
    """The run on one time axis: a lane of phases, a lane of fault injections, and a lane
    of the prober's outages (with the time it did not observe), from report.json's
    ``timeline``; each band carries its exact times as a tooltip."""
    timeline = _map(report.get("timeline"))
    spans = [_map(s) for s in _list(timeline.get("spans"))]
    spans = [s for s in spans if _num(s.get("start_s")) is not None]
    if not spans:
        return None
    ends = [_num(s.get("end_s")) or 0.0 for s in spans]
    observed = _num(_map(report.get("availability")).get("observed_s")) or 0.0
    # a phase may start before the prober's first probe (a negative start): the axis holds it
    first = min([0.0, *(_num(s.get("start_s")) or 0.0 for s in spans)])
    sx, _, xt, _ = scales([first, max([*ends, observed, 1.0])], [0.0, 1.0])
    height = TOP + len(_LANES) * (_LANE_H + _LANE_GAP) + BOTTOM
    rects: list[Rect] = []
    labels: list[Label] = []
    for row, (lane, title) in enumerate(_LANES):
        y = TOP + row * (_LANE_H + _LANE_GAP)
        labels.append(Label(sx.a - 6, y + _LANE_H / 2 + 4, title, "end"))
        lanes = ("outage", "not_observed") if lane == "outage" else (lane,)
        for s in (s for s in spans if s.get("lane") in lanes):
            a, b = _num(s.get("start_s")) or 0.0, _num(s.get("end_s")) or 0.0
            name = str(s.get("name") or s.get("lane"))
            tip = f"{name}: {fmt_number(a)}–{fmt_number(b)} s"
            recovered = _num(s.get("recovered_s"))
            if recovered is not None:
                tip += f", answered again at {fmt_number(recovered)} s"
            if s.get("running"):
                tip += " (still running when the report was written)"
            x, w = sx(a), max(2.0, sx(b) - sx(a))
            rects.append(Rect(x, y, w, _LANE_H, f"lane-{s.get('lane')}", tip))
            if lane == "phase" and w > 7 * len(name):
                labels.append(Label(x + w / 2, y + _LANE_H / 2 + 4, name, "middle", "lane-text"))
    return Chart(
        title="The run on one timeline: phases, fault injections, outages",
        x_label=f"seconds from {timeline.get('origin') or 'the start'}",
        y_label="",
        height=height,
        x_ticks=ticks(sx, xt),
        rects=tuple(rects),
        labels=tuple(labels),
        plot_bottom=height - BOTTOM,
        legend=(
            ("lane-phase", "phase"),
            ("lane-fault", "fault injected (to removed)"),
            ("lane-outage", "outage"),
            ("lane-not_observed", "not observed"),
        ),
    )


def _availability(view: views.AvailabilityView | None) -> dict[str, Any] | None:
    """The availability section's figures (the run's timeline is drawn in it)."""
    return None if view is None else {"view": view}


def _fault_runs(points: Sequence[tuple[float, Mapping[str, Any]]]) -> list[tuple[float, float]]:
    """``(start, end)`` of each unbroken run of probes taken while a fault was on."""
    runs: list[tuple[float, float]] = []
    current: list[float] = []
    for t, p in points:
        if p.get("phase") == "fault":
            current.append(t)
        elif current:
            runs.append((current[0], current[-1]))
            current = []
    if current:
        runs.append((current[0], current[-1]))
    return runs


def _chaos_chart(experiment: Mapping[str, Any]) -> Chart | None:
    timeline = [_map(p) for p in _list(experiment.get("timeline"))]
    points = [(t, p) for p in timeline if (t := _num(p.get("t_s"))) is not None]
    if not points:
        return None
    lat = [(t, v) for t, p in points if (v := _num(p.get("latency_ms"))) is not None]
    y_max = max((v for _, v in lat), default=1.0)
    sx, sy, xt, yt = scales([t for t, _ in points], [v for _, v in lat] or [1.0])
    bands: list[Rect] = []
    markers: list[Tick] = []
    injections = [_map(i) for i in _list(experiment.get("injections"))]
    for index, (start, end) in enumerate(_fault_runs(points)):
        # one band per injection: the gaps between them are steady state, not fault
        window = f"fault window {fmt_number(start)}–{fmt_number(end)} s"
        width, height = max(2.0, sx(end) - sx(start)), HEIGHT - BOTTOM - TOP
        bands.append(Rect(sx(start), TOP, width, height, "band-fault", window))
        markers.append(Tick(sx(start), "fault injected", "mark-fault"))
        # Mark recovery where the timeline shows it (first good probe after the fault),
        # labelled with the measured recovery time when the report has one.
        own = injections[index] if index < len(injections) else {}
        recover_s = _num(own.get("recover_s"))
        if recover_s is None and index == 0:
            recover_s = _num(_map(experiment.get("recovery")).get("recover_s"))
        label = "recovered" + (f" +{fmt_number(recover_s)} s" if recover_s is not None else "")
        good = [
            t
            for t, p in points
            if t >= end and p.get("phase") == "recovery" and p.get("ok") is True
        ]
        if good or recover_s is not None:
            at = min(good) if good else end + (recover_s or 0.0)
            markers.append(Tick(sx(at), label, "mark-recovered"))
    dots = []
    for t, p in points:
        v = _num(p.get("latency_ms"))
        ok = p.get("ok") is not False
        # A failed probe may have no latency; draw it on the top edge so it is seen.
        y = sy(v) if v is not None else sy(y_max)
        title = (
            f"t={fmt_number(t)} s {p.get('phase', '')}: "
            + (f"{fmt_number(v)} ms" if v is not None else "no response")
            + ("" if ok else " (failed)")
        )
        dots.append(Dot(sx(t), y, "dot-ok" if ok else "dot-fail", title))
    ok_line = [(t, v) for t, v in lat]
    return Chart(
        title="Probe latency over time",
        x_label="time (s)",
        y_label="latency (ms)",
        x_ticks=ticks(sx, xt),
        y_ticks=ticks(sy, yt),
        lines=(Polyline(polyline(ok_line, sx, sy), "line-probe", "probe"),) if ok_line else (),
        dots=tuple(dots),
        bands=tuple(bands),
        markers=tuple(markers),
        legend=(("dot-ok", "probe ok"), ("dot-fail", "probe failed"), ("band-fault", "fault")),
    )


# ---------------------------------------------------------------------------- render


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # the templates compiled once per user and jinja2 version (in the temporary
        # directory, a folder only this user may use): compiling costs a quarter second
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )


def prepare() -> None:
    """Load and compile the template now (the runner calls it while the tests run)."""
    _environment().get_template("report.html.j2")


def render_html(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> str:
    """Render report.json content (and earlier runs' history lines) as one HTML page.

    Tolerates a report of a crashed or interrupted run: absent or empty sections are
    left out and the page says which.
    """
    report = complete(report)
    tests = _test_rows(_list(report.get("tests")))
    total = _map(report.get("tests_total"))
    total_n, total_passed = count_or_zero(total.get("n")), count_or_zero(total.get("passed"))
    components = [
        {
            "name": str(name),
            "kind": str(_map(c).get("kind", "?")),
            "detail": str(_map(c).get("detail", "")),
        }
        for name, c in _map(report.get("components")).items()
    ]
    context = {
        "r": {
            key: ("" if report.get(key) is None else str(report.get(key))) for key in _HEADER_KEYS
        },
        "components": components,
        "service": views.service_name(report),
        "readiness": views.readiness_view(report),
        "slos": views.slo_rows(report),
        "availability": _availability(views.availability_view(report)),
        "run_timeline": _run_timeline(report),
        "resources": resource_view(report),
        "regression": regression_view(report),
        "coverage": coverage_view(report),
        "api_coverage": api_coverage_view(report),
        "security": security_view(report),
        "fuzz": fuzz_view(report),
        "floor": floor_view(report),
        "resource_charts": resource_charts(report),
        "history_skipped": views.history_skipped(report),
        "profile_description": str(report.get("profile_description") or ""),
        "phases_off": [(str(k), str(v)) for k, v in _map(report.get("phases_off")).items()],
        "gates": views.gate_rows(_list(report.get("gates"))),
        "comparison": views.comparison_view(report),
        "tests": tests,
        "tests_total": _rate(total_passed, total_n, total.get("pass_rate")) if total_n else None,
        "flaky_count": sum(1 for t in tests if t["flaky"]),
        "load": _load_view(_map(report.get("load"))),
        "chaos": _chaos_view(_list(report.get("chaos"))),
        "chaos_totals": views.chaos_totals(report.get("chaos_summary")),
        "trend": build_trend(report, history),
    }
    return _environment().get_template("report.html.j2").render(**context)
