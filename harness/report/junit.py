"""junit.xml: one testcase per test (its figures in its system-out), per gate and per chaos
experiment, so a CI page lists what failed, what is flaky and what is undecided; and, with a
load, a ``load`` testsuite whose properties say who sent it (the generated user or the
locustfile, its Locust processes, how many workers finished).

The file follows the JUnit XML that Jenkins' JUnit plugin and GitLab's test reports read
(the junit-10 layout: a testcase holds only skipped, error, failure, system-out and
system-err; ``tests/schemas/junit.xsd`` checks it). A test whose runs failed is a
``failure``; one whose runs only erred or timed out is an ``error``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report.files import atomic_write

if TYPE_CHECKING:
    from harness.report.views import GateRow

__all__ = ["sum_durations", "write_junit"]


def _rate(k: int, n: int, interval: Mapping[str, Any] | None) -> str:
    if not n or not interval:
        return f"{k}/{n}"
    return f"{k}/{n} [{interval['low']:.4f}, {interval['high']:.4f}]"


def write_junit(report: Mapping[str, Any], run_dir: Path) -> Path:
    """One testcase per test (its figures in its system-out), per gate and per chaos
    experiment; with a load, a ``load`` testsuite whose properties say who sent it."""
    from harness.report import views  # needs scipy: see render_markdown
    from harness.report.document import complete
    from harness.report.load_section import load_engine_facts

    report = complete(report)
    root = ET.Element("testsuites", name=f"moonbase-reliability {report.get('run_id', '')}")
    stamp = str(report.get("started_at") or "")[:19]  # xs:dateTime, to the second
    suites: list[tuple[str, list[ET.Element]]] = [
        ("tests", [_test_case(test) for test in report.get("tests", [])]),
        ("gates", [_gate_case(gate) for gate in views.gate_rows(report.get("gates", []))]),
        ("chaos", [_chaos_case(exp) for exp in report.get("chaos", [])]),
    ]
    # who sent the load (the generator, its Locust processes, the workers that finished), as
    # summary.md and index.html say it: properties of a suite of its own, which holds no
    # testcase (the load is judged by its gates, in "gates"); junit-10 allows properties on
    # a testsuite only
    engine = load_engine_facts(report.get("load"))
    if engine:
        suites.append(("load", []))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for name, members in suites:
        counts = {
            "tests": len(members),
            "failures": sum(1 for c in members if c.find("failure") is not None),
            "errors": sum(1 for c in members if c.find("error") is not None),
            "skipped": sum(1 for c in members if c.find("skipped") is not None),
        }
        seconds = sum(float(c.get("time") or 0) for c in members)
        attributes = {"name": name, **{k: str(v) for k, v in counts.items()}}
        attributes["time"] = f"{seconds:.3f}"
        if stamp:
            attributes["timestamp"] = stamp
        suite = ET.SubElement(root, "testsuite", attributes)
        if name == "load":
            properties = ET.SubElement(suite, "properties")
            for key, value in engine:
                ET.SubElement(properties, "property", name=key, value=value)
        suite.extend(members)
        totals = {k: totals[k] + counts[k] for k in totals}
    root.attrib.update({k: str(v) for k, v in totals.items()})
    ET.indent(root)
    path = run_dir / "junit.xml"
    atomic_write(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
    return path


def _test_case(test: Mapping[str, Any]) -> ET.Element:
    from harness.report import views  # needs scipy: see render_markdown

    nodeid = str(test["nodeid"])
    module, _, name = nodeid.partition("::")
    case = ET.Element(
        "testcase",
        classname=module.replace("/", ".").removesuffix(".py"),
        name=name or nodeid,
        time=f"{sum_durations(test):.3f}",
    )
    lines = [f"{key}: {test.get(key)}" for key in
             ("n", "passed", "failed", "errors", "timeouts", "flaky", "decision")]  # fmt: skip
    rate = test.get("pass_rate") or {}
    lines += [f"pass_rate.{key}: {rate[key]}" for key in
              ("estimate", "low", "high", "method", "confidence") if key in rate]  # fmt: skip
    # trials needed only while undecided: a test that has already failed needs none
    needed = views.undecided_trials_needed(test)
    lines.append(f"trials_needed: {views.MISSING if needed is None else needed}")
    figure = _rate(int(test["passed"]), int(test["n"]), rate)
    if test["n"] and test["passed"] < test["n"]:
        kind = "flaky" if test.get("flaky") else "failing"
        only_errors = not test.get("failed") and (test.get("errors") or test.get("timeouts"))
        element = "error" if only_errors else "failure"
        failure = ET.SubElement(case, element, type=kind, message=f"{kind}: {figure} runs passed")
        failure.text = "\n".join(test.get("messages", []))
    elif not test["n"]:
        ET.SubElement(case, "skipped", message="no counted run")
    ET.SubElement(case, "system-out").text = "\n".join(lines) + "\n"
    return case


def _gate_case(gate: GateRow) -> ET.Element:
    case = ET.Element("testcase", classname="gates", name=gate.name, time="0")
    message = (
        f"{gate.outcome}: observed {gate.observed}, decided on {gate.decided_on} "
        f"{gate.required}; {gate.detail}"
    )
    if gate.outcome == "fail":
        ET.SubElement(case, "failure", type="gate", message=message)
    elif gate.outcome == "insufficient":
        ET.SubElement(case, "failure", type="insufficient-evidence", message=message)
    elif gate.outcome == "off":  # judged nothing: listed, not passed
        ET.SubElement(case, "skipped", message=gate.detail)
    return case


def _chaos_case(exp: Mapping[str, Any]) -> ET.Element:
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
                or f"effect_observed={exp.get('effect_observed')} recovered={exp.get('recovered')}"
            ),
        )
    return case


def sum_durations(test: Mapping[str, Any]) -> float:
    summary = test.get("duration_s") or {}
    return float(summary.get("p50", 0.0)) * int(test.get("n", 0))
