"""The run's one timeline: phases, fault injections and the prober's outages on one clock."""

from __future__ import annotations

import re

from harness.availability import ProbePoint, analyse_probes
from harness.chaos.executor import ExperimentResult, InjectionResult
from harness.chaos.timeline import InjectionAnalysis
from harness.record import ChaosOutcome, ExperimentOutcome, PhaseSpan, RunOutcome, build_report
from harness.report.html import render_html

T0 = 1_800_000_000.0  # the wall clock of the prober's first probe


def _injection(index: int, t_inject: float, t_remove: float, total_s: float) -> InjectionResult:
    analysis = InjectionAnalysis(
        steady_median_ms=1.0, fault_median_ms=300.0, effect_ms=299.0, fault_error_rate=0.0,
        effect_observed=True, detect_s=0.1, recover_s=total_s - (t_remove - t_inject),
        total_s=total_s, recovered=True, detail="",
    )  # fmt: skip
    return InjectionResult(index, t_inject, t_remove, analysis)


def _outcome() -> RunOutcome:
    # probes every 0.5 s for 60 s; down from 40 s to 43 s; the prober away from 50 to 55 s
    points = [
        ProbePoint(i * 0.5, not 40 <= i * 0.5 < 43) for i in range(121) if not 50 < i * 0.5 < 55
    ]
    availability = analyse_probes(points, interval_s=0.5, origin_epoch=T0)
    experiment = ExperimentResult(
        name="api-latency", title="latency", faults=(), server_kind="embedded",
        steady_state_met=True, timeline=(), max_recovery_s=30.0, max_error_rate=0.01,
        injections=(_injection(0, 2.0, 5.0, 3.4), _injection(1, 9.0, 12.0, 3.2)),
        started_epoch=T0 + 30.0,
    )  # fmt: skip
    return RunOutcome(
        command="gate",
        run_id="r1",
        started_at="2026-12-02T00:00:00Z",
        availability=availability,
        spans=(
            PhaseSpan("tests", T0 - 1.0, T0 + 10.0),
            PhaseSpan("load", T0 + 10.0, T0 + 29.0),
            PhaseSpan("chaos", T0 + 29.5, None),  # still running at this checkpoint
        ),
        chaos=ChaosOutcome((ExperimentOutcome(experiment, 30.0),)),
    )


def _spans(lane: str) -> list[dict[str, object]]:
    return [s for s in build_report(_outcome())["timeline"]["spans"] if s["lane"] == lane]


def test_phases_faults_and_outages_share_the_probers_clock() -> None:
    timeline = build_report(_outcome())["timeline"]
    assert timeline["origin_epoch"] == T0
    assert timeline["origin"] == "the whole-run prober's first probe"
    phases = _spans("phase")
    assert [(p["name"], p["start_s"], p["end_s"]) for p in phases[:2]] == [
        ("tests", -1.0, 10.0),
        ("load", 10.0, 29.0),
    ]
    # each injection where it happened: the experiment's start plus its own offsets
    faults = _spans("fault")
    assert [(f["name"], f["start_s"], f["end_s"], f["recovered_s"]) for f in faults] == [
        ("api-latency #1", 32.0, 35.0, 35.4),
        ("api-latency #2", 39.0, 42.0, 42.2),
    ]
    # the phase still running ends at the latest time known, and says it runs
    assert phases[2]["running"] is True
    assert phases[2]["end_s"] == 30.0
    outages = _spans("outage")
    assert [(o["start_s"], o["end_s"]) for o in outages] == [(40.0, 43.0)]
    assert [(g["start_s"], g["end_s"]) for g in _spans("not_observed")] == [(50.0, 55.0)]


def test_without_a_prober_the_first_phase_is_the_origin() -> None:
    outcome = _outcome()
    import dataclasses

    outcome = dataclasses.replace(outcome, availability=None)
    timeline = build_report(outcome)["timeline"]
    assert timeline["origin"] == "the first phase's start"
    assert timeline["origin_epoch"] == T0 - 1.0
    assert {s["lane"] for s in timeline["spans"]} == {"phase", "fault"}
    assert build_report(RunOutcome("gate", "r2", "2026-12-02T00:00:00Z")).get("timeline") is None


def _bands(html: str, css: str) -> list[tuple[float, float, str]]:
    return [
        (float(x), float(w), title)
        for x, w, title in re.findall(
            rf'<rect class="{css}" x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+">'
            r"<title>([^<]*)</title>",
            html,
        )
    ]


def test_the_html_draws_the_faults_and_the_outage_on_one_axis() -> None:
    report = build_report(_outcome())
    html = render_html(report)
    assert 'id="run-timeline"' in html
    phases, faults = _bands(html, "lane-phase"), _bands(html, "lane-fault")
    outages, gaps = _bands(html, "lane-outage"), _bands(html, "lane-not_observed")
    assert [t.split(":")[0] for _, _, t in phases] == ["tests", "load", "chaos"]
    assert len(faults) == 2
    assert len(outages) == 1
    assert len(gaps) == 1
    assert "api-latency #2: 39–42 s, answered again at 42.2 s" in [t for _, _, t in faults]
    assert "(still running when the report was written)" in phases[2][2]
    # one x axis: the outage (40-43 s) starts after the second fault (39 s) and ends after it
    fault_x, fault_w, _ = faults[1]
    outage_x, outage_w, _ = outages[0]
    assert fault_x < outage_x < fault_x + fault_w < outage_x + outage_w
    # and the load phase lies left of both
    assert phases[1][0] + phases[1][1] < fault_x
    # the tests phase began before the first probe (-1 s): still inside the plot, not clipped
    from harness.report.charts import LEFT

    assert phases[0][0] >= LEFT
