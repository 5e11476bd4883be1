"""Writing a run's reports from its report.json content.

report.json is the source of truth; junit.xml, summary.md, index.html and allure-results/
are renderings of it, so ``reliable-test-runner report`` can re-render any run.
Every file is written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.history import append_history, history_line, read_history

if TYPE_CHECKING:
    from harness.report.views import ChaosRow, ComparisonView

__all__ = [
    "SCHEMA",
    "render_markdown",
    "write_all",
    "write_json",
    "write_junit",
]

SCHEMA = "moonbase-reliability/1"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(report: Mapping[str, Any], run_dir: Path) -> Path:
    path = run_dir / "report.json"
    _atomic_write(path, json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    return path


def _rate(k: int, n: int, interval: Mapping[str, Any] | None) -> str:
    if not n or not interval:
        return f"{k}/{n}"
    return f"{k}/{n} [{interval['low']:.4f}, {interval['high']:.4f}]"


def write_junit(report: Mapping[str, Any], run_dir: Path) -> Path:
    """One testcase per test (its figures as properties), per gate and per chaos experiment."""
    from harness.report import views  # needs scipy: see render_markdown

    root = ET.Element("testsuites", name=f"moonbase-reliability {report.get('run_id', '')}")
    suites: list[tuple[str, list[ET.Element]]] = []

    cases = []
    for test in report.get("tests", []):
        nodeid = str(test["nodeid"])
        module, _, name = nodeid.partition("::")
        case = ET.Element(
            "testcase",
            classname=module.replace("/", ".").removesuffix(".py"),
            name=name or nodeid,
            time=f"{sum_durations(test):.3f}",
        )
        props = ET.SubElement(case, "properties")
        for key in ("n", "passed", "failed", "errors", "timeouts", "flaky", "decision"):
            ET.SubElement(props, "property", name=key, value=str(test.get(key)))
        rate = test.get("pass_rate") or {}
        for key in ("estimate", "low", "high", "method", "confidence"):
            if key in rate:
                ET.SubElement(props, "property", name=f"pass_rate.{key}", value=str(rate[key]))
        # trials needed only while undecided: a test that has already failed needs none
        needed = views.undecided_trials_needed(test)
        shown = views.MISSING if needed is None else str(needed)
        ET.SubElement(props, "property", name="trials_needed", value=shown)
        figure = _rate(int(test["passed"]), int(test["n"]), rate)
        if test["n"] and test["passed"] < test["n"]:
            kind = "flaky" if test.get("flaky") else "failing"
            failure = ET.SubElement(
                case, "failure", type=kind, message=f"{kind}: {figure} runs passed"
            )
            failure.text = "\n".join(test.get("messages", []))
        elif not test["n"]:
            ET.SubElement(case, "skipped", message="no counted run")
        cases.append(case)
    suites.append(("tests", cases))

    gate_cases = []
    for gate in views.gate_rows(report.get("gates", [])):
        case = ET.Element("testcase", classname="gates", name=gate.name, time="0")
        message = (
            f"{gate.outcome}: observed {gate.observed}, decided on {gate.decided_on} "
            f"{gate.required}; {gate.detail}"
        )
        if gate.outcome == "fail":
            ET.SubElement(case, "failure", type="gate", message=message)
        elif gate.outcome == "insufficient":
            ET.SubElement(case, "failure", type="insufficient-evidence", message=message)
        gate_cases.append(case)
    suites.append(("gates", gate_cases))

    chaos_cases = []
    for exp in report.get("chaos", []):
        case = ET.Element("testcase", classname="chaos", name=str(exp["name"]), time="0")
        if exp.get("status") == "not_run":  # nothing injected: no evidence, no failure
            ET.SubElement(case, "skipped", message=str(exp.get("error") or "not run"))
        elif not exp.get("effect_observed") or not exp.get("recovered") or exp.get("error"):
            ET.SubElement(
                case,
                "failure",
                type="chaos",
                message=str(
                    exp.get("error")
                    or f"effect_observed={exp.get('effect_observed')} "
                    f"recovered={exp.get('recovered')}"
                ),
            )
        chaos_cases.append(case)
    suites.append(("chaos", chaos_cases))

    for name, members in suites:
        failures = sum(1 for c in members if c.find("failure") is not None)
        skipped = sum(1 for c in members if c.find("skipped") is not None)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(members)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
        )
        suite.extend(members)
    ET.indent(root)
    path = run_dir / "junit.xml"
    _atomic_write(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
    return path


def sum_durations(test: Mapping[str, Any]) -> float:
    summary = test.get("duration_s") or {}
    return float(summary.get("p50", 0.0)) * int(test.get("n", 0))


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: no pipe ends the cell, no newline the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The CI page summary: verdict, gates, comparison, flaky tests first, load, chaos."""
    # views needs scipy (harness.stats): imported here, not when phases.py reads history
    from harness.report import views

    def header(key: str) -> str:
        value = report.get(key)
        return views.MISSING if value is None else str(value)

    lines = [
        f"# Moonbase reliability: {str(report.get('verdict') or '?').upper()}",
        "",
        f"run `{header('run_id')}` · profile `{header('profile')}` · "
        f"status **{header('status')}** · exit code {header('exit_code')}",
        "",
    ]
    if report.get("error"):
        lines += [f"> **error:** {report['error']}", ""]
    gates = views.gate_rows(report.get("gates", []))
    if gates:
        lines += [
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
            "observed: the point estimate; decided on: the figure the outcome was decided on.",
            "",
        ]
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
            lines.append(
                f"| `{_cell(t['nodeid'])}` | {figure} | {'yes' if t.get('flaky') else ''} | "
                f"{t.get('timeouts', 0)} | {views.trials_needed_text(t)} |"
            )
        lines += ["", "trials needed: shown only while a test's decision is insufficient.", ""]
    load = report.get("load")
    if load:
        lat = load.get("latency_ms", {})
        lines += [
            "## Load",
            "",
            f"{load.get('requests')} requests, {load.get('failures')} failed, "
            f"{load.get('rps', 0):.1f} req/s; latency p50 {lat.get('p50')} ms, "
            f"p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, max {lat.get('max')} ms "
            f"({load.get('model', 'open')} model)",
            "",
        ]
    lines += _chaos_markdown(views.chaos_rows(report.get("chaos", [])))
    return "\n".join(lines)


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


def _point_latest(root: Path, run_dir: Path) -> None:
    latest = root / "latest"
    tmp = root / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def write_all(
    report: Mapping[str, Any],
    run_dir: Path,
    root: Path,
    *,
    final: bool = True,
    history: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Every report file for a run; ``final`` also appends history and moves ``latest``."""
    paths = {"json": write_json(report, run_dir)}
    if not final:
        return paths
    from harness.report.allure import write_allure_results
    from harness.report.html import render_html

    paths["junit"] = write_junit(report, run_dir)
    summary = run_dir / "summary.md"
    _atomic_write(summary, render_markdown(report) + "\n")
    paths["markdown"] = summary
    past = list(history) if history is not None else list(read_history(root).runs)
    html = run_dir / "index.html"
    _atomic_write(html, render_html(report, [*past, history_line(report)]))
    paths["html"] = html
    write_allure_results(report, run_dir / "allure-results")
    paths["allure"] = run_dir / "allure-results"
    if history is None:
        append_history(report, root)
    _point_latest(root, run_dir)
    return paths
