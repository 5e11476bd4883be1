"""Coverage reports of any language read into one shape: coverage.py JSON, Cobertura XML,
LCOV; the coverage gates; a malformed report named with what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checklist import evaluate_checklist
from harness.code_coverage import (
    CategoryCoverage,
    CoverageFigures,
    CoverageOutcome,
    FileCoverage,
    coverage_gate,
    read_coverage_report,
)
from harness.config import ReadinessSettings
from harness.errors import ConfigError
from harness.gates import Evidence

COBERTURA = """<?xml version="1.0" ?>
<coverage line-rate="0.6" branch-rate="0.5" version="7">
  <packages><package name="svc"><classes>
    <class name="app.py" filename="svc/app.py">
      <lines>
        <line number="1" hits="1"/>
        <line number="2" hits="0"/>
        <line number="3" hits="2" branch="true" condition-coverage="50% (1/2)"/>
        <line number="4" hits="0"/>
        <line number="5" hits="1"/>
      </lines>
    </class>
  </classes></package></packages>
</coverage>
"""

LCOV = """TN:
SF:src/a.ts
DA:1,1
DA:2,0
DA:3,5
BRDA:3,0,0,1
BRDA:3,0,1,-
end_of_record
SF:src/b.ts
DA:1,0
end_of_record
"""

COVERAGE_JSON = {
    "meta": {"version": "7.4"},
    "files": {
        "pkg/mod.py": {
            "summary": {"num_statements": 10, "covered_lines": 7, "num_branches": 4,
                        "covered_branches": 1},
            "missing_lines": [3, 4, 5],
        }
    },
}  # fmt: skip


def test_cobertura_lcov_and_coverage_json_give_the_same_figures(tmp_path: Path) -> None:
    (tmp_path / "c.xml").write_text(COBERTURA)
    (tmp_path / "l.info").write_text(LCOV)
    (tmp_path / "c.json").write_text(json.dumps(COVERAGE_JSON))
    cobertura = read_coverage_report(tmp_path / "c.xml")
    assert cobertura.lines == (3, 5)
    assert cobertura.branches == (1, 2)
    assert cobertura.files[0].missing == (2, 4)
    lcov = read_coverage_report(tmp_path / "l.info")
    assert lcov.lines == (2, 4)
    assert lcov.branches == (1, 2)
    assert [f.missing for f in lcov.files] == [(2,), (1,)]
    assert lcov.to_json()["worst"][0]["path"] == "src/b.ts"  # 0% first
    py = read_coverage_report(tmp_path / "c.json")
    assert py.lines == (7, 10)
    assert py.percent("branches") == 25.0
    assert py.to_json()["worst"][0]["missing"] == "3-5"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "neither JSON, XML nor LCOV"),
        ('{"totals": {}}', "without the coverage.py 'files' table"),
        ("<coverage><packages/></coverage>", "it lists no file"),
        ('<coverage><class filename="a"><line number="x" hits="1"/></class></coverage>',
         "has no number or hits"),
        ("SF:a.c\nDA:1,1\n", "has no end_of_record"),
    ],
)  # fmt: skip
def test_a_malformed_report_names_the_file_and_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "report"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        read_coverage_report(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)
    assert "expected coverage.py JSON, Cobertura XML or LCOV" in str(raised.value)


def test_the_gate_compares_the_count_and_the_checklist_row_reads_it(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(COVERAGE_JSON))
    figures = read_coverage_report(tmp_path / "c.json")
    assert coverage_gate("coverage_min", figures, 70.0, "lines").outcome == "pass"
    assert coverage_gate("coverage_min", figures, 70.1, "lines").outcome == "fail"
    assert coverage_gate("coverage_min", figures, 20.0, "branches").outcome == "pass"
    assert coverage_gate("coverage_min", None, 20.0, "lines").outcome == "insufficient"
    rows = {
        r.key: r for r in evaluate_checklist(ReadinessSettings(), Evidence(coverage=figures)).rows
    }
    assert rows["coverage"].outcome == "fail"  # 70% against the checklist's > 95%
    assert "7/10 lines covered" in rows["coverage"].measured
    unmeasured = {r.key: r for r in evaluate_checklist(ReadinessSettings(), Evidence()).rows}
    assert unmeasured["coverage"].outcome == "not measured"


def test_category_gates_take_their_own_minimum_or_are_listed_off() -> None:
    from harness.config import CoverageSettings, GateSettings
    from harness.phases.coverage_phase import category_gates

    figures = CoverageFigures("t", (FileCoverage("a.py", 10, 7, 0, 0),))
    outcome = CoverageOutcome("lines", "t", figures, (CategoryCoverage("api", "api", figures, 3),))
    cats = {"api": "api", "unit": "unit"}
    gates = GateSettings(coverage_min=60.0)
    own = category_gates(outcome, CoverageSettings(enabled=True, categories=cats), gates)
    assert [(g.name, g.outcome) for g in own] == [
        ("coverage_api_min", "pass"),
        ("coverage_unit_min", "insufficient"),  # no figures for it: never a pass
    ]
    stricter = CoverageSettings(enabled=True, categories=cats, category_min=80.0)
    assert category_gates(outcome, stricter, gates)[0].outcome == "fail"
    off = CoverageSettings(enabled=True, categories=cats, category_min="off")
    assert {g.outcome for g in category_gates(outcome, off, gates)} == {"off"}


def test_tests_that_could_not_name_themselves_to_the_coverage_host_are_said(
    tmp_path: Path,
) -> None:
    from harness.phases.coverage_phase import _unnamed

    (tmp_path / "api-contexts.txt").write_text("t.py::a\nt.py::b\n")
    (tmp_path / "unit-contexts.txt").write_text("t.py::c\nt.py::c\n")  # named twice: one
    ran = {"api": (2, ""), "unit": (3, ""), "none": (0, "no test matches 'none'")}
    said = _unnamed(tmp_path, ran)
    assert "unit: 1 of 3 tests" in said
    assert "api" not in said
    assert "none" not in said
    assert _unnamed(tmp_path, {"api": (2, "")}) == ""
