"""summary.md: the CI page summary (and GITHUB_STEP_SUMMARY): verdict, gates, comparison,
flaky tests first, load, chaos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.values import as_map as _map

if TYPE_CHECKING:
    from harness.report.api_coverage_section import ApiCoverageView
    from harness.report.coverage_section import CoverageView
    from harness.report.fuzz_section import FuzzView
    from harness.report.regression_section import RegressionView
    from harness.report.resource_section import ResourceView
    from harness.report.security_section import SecurityView
    from harness.report.views import (
        AvailabilityView,
        ChaosRow,
        ComparisonView,
        GateRow,
        ReadinessView,
        SloRow,
    )

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: no pipe ends the cell, no newline the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The CI page summary: verdict, gates, comparison, flaky tests first, load, chaos."""
    # views needs scipy (harness.stats): imported here, not when the tests phase reads the history
    from harness.report import views
    from harness.report.api_coverage_section import api_coverage_view
    from harness.report.coverage_section import coverage_view
    from harness.report.document import complete
    from harness.report.fuzz_section import fuzz_view
    from harness.report.regression_section import regression_view
    from harness.report.resource_section import resource_view
    from harness.report.security_section import security_view

    report = complete(report)

    def header(key: str) -> str:
        value = report.get(key)
        return views.MISSING if value is None else str(value)

    lines = [
        f"# Moonbase reliability: {str(report.get('verdict') or '?').upper()}",
        "",
        f"run `{header('run_id')}` · profile `{header('profile')}` · "
        f"status **{header('status')}** · exit code {header('exit_code')}",
        "",
        f"service: **{_cell(views.service_name(report))}**"
        + (
            f" · profile `{header('profile')}`: {_cell(report['profile_description'])}"
            if report.get("profile_description")
            else ""
        ),
        "",
    ]
    if report.get("error"):
        lines += [f"> **error:** {report['error']}", ""]
    lines += _readiness_markdown(views.readiness_view(report))
    lines += _availability_markdown(views.availability_view(report))
    lines += _resources_markdown(resource_view(report))
    lines += _regression_markdown(regression_view(report))
    lines += _coverage_markdown(coverage_view(report))
    lines += _api_coverage_markdown(api_coverage_view(report))
    lines += _security_markdown(security_view(report))
    lines += _fuzz_markdown(fuzz_view(report))
    lines += _slo_markdown(views.slo_rows(report))
    for phase, why in _map(report.get("phases_off")).items():
        lines += [f"> **{phase}: off** ({why}); its gates are off with it", ""]
    lines += _gates_markdown(
        views.gate_rows(report.get("gates", [])), report.get("status") == "completed"
    )
    lines += _comparison_markdown(views.comparison_view(report))
    tests = sorted(
        report.get("tests", []),
        key=lambda t: (not t.get("flaky"), -(t["n"] - t["passed"]) / max(t["n"], 1)),
    )
    if tests:
        lines += [
            "## Tests (flaky first)",
            "",
            "| test | passed/runs [95% CI] | flaky | timeouts | trials needed |",
            "|---|---|---|---|---|",
        ]
        for t in tests:
            figure = views.rate_text(t["passed"], t["n"], t.get("pass_rate"))
            failure = views.failure_line(t)
            failure = f"<br>{_cell(failure)}" if failure else ""
            lines.append(
                f"| `{_cell(t['nodeid'])}`{failure} | {figure} | "
                f"{'yes' if t.get('flaky') else ''} | "
                f"{t.get('timeouts', 0)} | {views.trials_needed_text(t)} |"
            )
        lines += ["", "trials needed: shown only while a test's decision is insufficient.", ""]
    skipped = views.history_skipped(report)
    if skipped:
        lines += [
            f"> **history:** {len(skipped)} line(s) of history.jsonl could not be read and are "
            "left out of each test's record across runs: " + "; ".join(map(_cell, skipped[:5])),
            "",
        ]
    lines += _load_markdown(report.get("load")) + _floor_markdown(report)
    lines += _chaos_markdown(views.chaos_rows(report.get("chaos", [])))
    return "\n".join(lines)


def _gates_markdown(gates: list[GateRow], completed: bool) -> list[str]:
    if not gates and not completed:
        return []  # a crashed or interrupted run never got to its gates
    if not gates:
        return [
            "## Gates",
            "",
            "No gate was configured: nothing was judged, so this run is no pass.",
            "",
        ]
    lines = [
        "## Gates",
        "",
        "| gate | outcome | observed | decided on | threshold | detail |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {g.name} | **{g.outcome}** | {g.observed} | {_cell(g.decided_on)} | "
        f"{g.required} | {_cell(g.detail)} |"
        for g in gates
    ]
    lines += [
        "",
        "observed: the point estimate; decided on: the figure the outcome was decided on. "
        "test_success: all tests' runs pooled, with no test shown below the threshold on "
        "its own; test_slo: every test on its own.",
        "",
    ]
    return lines


def _availability_markdown(view: AvailabilityView | None) -> list[str]:
    if view is None:
        return []
    lines = [
        "## Availability over the whole run",
        "",
        f"available: **{view.claim}**; {view.observed}" + (f"; {view.needs}" if view.needs else ""),
        "",
        f"method: {view.method}; assumption: {view.assumption}.",
        "",
    ]
    if view.outages:
        lines += ["| outage start s | end s | duration s |", "|---:|---:|---:|"]
        lines += [f"| {a} | {b} | {d} |" for a, b, d in view.outages]
        lines.append("")
    return lines


def _coverage_markdown(view: CoverageView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## Code coverage of the target", "", f"**{view.headline}** ({view.how})", ""]
    if view.categories:
        lines += ["| category | lines | branches | selection |", "|---|---|---|---|"]
        lines += [
            f"| {r.name} | {r.lines} | {r.branches} | {_cell(r.note)} |" for r in view.categories
        ]
        lines.append("")
    if view.packages:
        lines += ["| package | lines | branches |", "|---|---|---|"]
        lines += [f"| {_cell(r.name)} | {r.lines} | {r.branches} |" for r in view.packages]
        lines.append("")
    return lines


def _api_coverage_markdown(view: ApiCoverageView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## API coverage", "", f"**{view.headline}** ({_cell(view.how)})", ""]
    if view.never:
        lines += ["never exercised: " + ", ".join(f"`{op}`" for op in view.never), ""]
    missed = [r for r in view.rows if r.requests and (r.missed != "-" or r.undocumented != "-")]
    if missed:
        lines += ["| operation | documented, never exercised | undocumented statuses |"]
        lines += ["|---|---|---|"]
        lines += [f"| `{r.operation}` | {r.missed} | {r.undocumented} |" for r in missed]
        lines.append("")
    if view.unmatched:
        lines += ["requests no operation of the document describes: "
                  + ", ".join(f"`{k}` x{v}" for k, v in view.unmatched), ""]  # fmt: skip
    return lines


def _fuzz_markdown(view: FuzzView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## API fuzzing", "", f"**{_cell(view.headline)}** ({_cell(view.how)})", ""]
    for name, why in view.untested:
        lines += [f"> not fully tested: `{name}`: {_cell(why)}", ""]
    for op, check, title, cases, message, curl in view.failures:
        lines += [f"- `{op}` {title} ({check}, {cases} cases): {_cell(message)}"]
        lines += [f"  `{curl}`"] if curl else []
    return [*lines, ""] if view.failures else lines


def _security_markdown(view: SecurityView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## Security", ""]
    for part in view.parts:
        via = f" ({_cell(part.sources)})" if part.sources else ""
        lines += [f"**{part.name}**: {_cell(part.headline)}{via}", ""]
        counted = [f for f in part.findings if "not counted" not in f[0]]
        if counted:
            lines += ["| severity | confidence | id | where | what | fix |"]
            lines += ["|---|---|---|---|---|---|"]
            lines += [
                f"| {s} | {c} | {i} | `{w}` | {_cell(t)} | {fx} |" for s, i, w, t, c, fx in counted
            ]
            lines.append("")
    return lines


def _regression_markdown(view: RegressionView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## Regression against the baseline", "", view.headline, ""]
    if view.rows:
        lines += [
            "| metric | baseline | now | worse by | p | outcome | judged against |",
            "|---|---:|---:|---|---:|---|---|",
        ]
        lines += [
            f"| {r.metric} | {r.baseline} | {r.current} | {r.effect} | {r.p_value} "
            f"| **{r.outcome}** | {_cell(r.noise)} ({_cell(r.method)}) |"
            for r in view.rows
        ]
        lines += [
            "",
            "flagged: significant at 5% and worse by more than the minimum effect.",
            "",
        ]
    return lines


def _resources_markdown(view: ResourceView | None) -> list[str]:
    if view is None:
        return []
    lines = [
        "## The target's memory and CPU",
        "",
        f"peak RSS **{view.peak}**; CPU under load: **{view.under_load}**"
        + (f"; RSS growth {view.growth}" if view.growth else ""),
        "",
        "| phase | samples | RSS | CPU | threads (peak) | open fds (peak) |",
        "|---|---:|---|---|---:|---:|",
    ]
    lines += [
        f"| {_cell(r.phase)} | {r.samples} | {r.rss} | {r.cpu} | {r.threads} | {r.fds} |"
        for r in view.rows
    ]
    lines += ["", f"sampled: {view.source}" + (f"; {view.down}" if view.down else "") + ".", ""]
    return lines


def _slo_markdown(rows: list[SloRow]) -> list[str]:
    if not rows:
        return []
    lines = [
        "## SLOs and error budgets",
        "",
        "| SLO | indicator | objective | SLI [95% CI] | burn rate [one-sided 95% bounds] "
        "| budget consumed | short windows |",
        "|---|---|---:|---|---|---:|---|",
    ]
    lines += [
        f"| {_cell(r.name)} | {r.indicator} | {r.objective} | {r.sli} | {r.burn} | {r.budget} "
        f"| {r.windows} |"
        for r in rows
    ]
    lines += [
        "",
        "burn rate: the error ratio over the budget (1 spends it exactly over the window; "
        "14.4, 6 and 1 are the SRE workbook's multiwindow thresholds); budget consumed: the "
        "share of the window's error budget this run used.",
        "",
    ]
    return lines


def _readiness_markdown(view: ReadinessView | None) -> list[str]:
    """The production-readiness checklist: the first thing a release manager reads."""
    if view is None:
        return []
    lines = [
        f"## Production readiness: **{view.verdict}** ({view.summary})",
        "",
        "| row | target | outcome | measured | what it would take |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(r['title'])} | {_cell(r['target'])} | **{r['outcome']}** | "
        f"{_cell(r['measured'])} | {_cell(r['needs'])} |"
        for r in view.rows
    ]
    lines += [
        "",
        '"not measured" is never a pass; the verdict is "ready" only when every row passed.',
        "",
    ]
    return lines


def _load_markdown(load: Any) -> list[str]:
    """The load section: the totals, how and by what it was sent, then each request of the
    mix on its own."""
    from harness.report import load_section  # scipy (views): not when this is imported

    if not load:
        return []
    lat = load.get("latency_ms", {})
    lines = [
        "## Load"
        + (" (interrupted: what was measured until then)" if load.get("interrupted") else ""),
        "",
        f"{load.get('requests')} requests, {load.get('failures')} failed, "
        f"{load.get('rps', 0):.1f} req/s; latency p50 {lat.get('p50')} ms, "
        f"p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, max {lat.get('max')} ms",
        "",
        f"Sent by the {load_section.load_model_text(load)}.",
        "",
        f"Generated by {_cell(load_section.load_engine_text(load))}.",
        "",
    ]
    if stop := load_section.load_stop_text(load):
        lines += [f"**{_cell(stop)}**", ""]
    if proof := load_section.load_proof_text(load):
        lines += [f"Proof: **{_cell(proof)}**", ""]
    errors = sorted(_map(load.get("errors")).items(), key=lambda item: -int(item[1] or 0))
    if errors:
        lines += ["| failed requests: why | count |", "|---|---:|"]
        lines += [f"| {_cell(msg)} | {count} |" for msg, count in errors[:10]]
        lines.append("")
    requests = load_section.request_rows(load)
    if requests:
        lines += [
            "| request | requests | failed k/n [95% CP] | p50 ms | p95 ms [95% bounds] "
            "| p99 ms | max ms |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {_cell(r.name)} | {r.requests} | {r.failed} | {r.p50} | {r.p95} | "
            f"{r.p99} | {r.max} |"
            for r in requests
        ]
        lines.append("")
    return lines


def _floor_markdown(report: Mapping[str, Any]) -> list[str]:
    """The generator's own latency beside the target's, each percentile flagged at it."""
    from harness.floor import AT_FLOOR
    from harness.report.floor_section import floor_view

    view = floor_view(report)
    if view is None:
        return []
    lines = [
        "### The generator's floor",
        "",
        f"{_cell(view.headline)}.",
        "",
        "| percentile | target ms | floor ms [95% bounds] | at the floor? |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {r.percentile} | {r.target} | {r.floor} | {_cell(r.flag)} |" for r in view.rows]
    lines += ["", f"{_cell(view.rule)}.", ""]
    if view.flagged:
        lines += [f"**{', '.join(view.flagged)}: {AT_FLOOR}.**", ""]
    return lines


def _comparison_markdown(c: ComparisonView | None) -> list[str]:
    if c is None:
        return []
    return [
        "## Comparison with baseline",
        "",
        f"**{c.verdict}** against baseline run `{c.baseline}` ({c.test})",
        "",
        "| metric | median before -> after | effect | p-value | minimum effect | noise |",
        "|---|---|---|---|---|---|",
        f"| {c.metric} | {c.medians} | {c.effect} | {c.p_value} | {c.min_effect} | "
        f"{_cell(c.noise)} |",
        "",
    ]


def _chaos_markdown(rows: Sequence[ChaosRow]) -> list[str]:
    if not rows:
        return []
    lines = [
        "## Chaos",
        "",
        "| experiment | fault | effect observed | recovered k/n [95% CI] "
        "| recovery s p50 / p95 / max | claim |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.name} | {_cell(c.fault)} | {c.effect_observed} | {c.recovered} | "
        f"{c.recovery} | {_cell(c.claim)} |"
        for c in rows
    ]
    lines.append("")
    notes = [f"- {c.name}: {c.note}" for c in rows if c.note]
    if notes:
        lines += [*notes, ""]
    return lines
