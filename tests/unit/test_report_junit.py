"""junit.xml: what a CI page shows of tests, gates and chaos experiments."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report.writers import write_junit


def _junit(report: dict[str, Any], tmp_path: Path) -> ET.Element:
    return ET.parse(write_junit(report, tmp_path)).getroot()


def _case(root: ET.Element, classname: str, name: str) -> ET.Element:
    (case,) = [
        c for c in root.iter("testcase") if (c.get("classname"), c.get("name")) == (classname, name)
    ]
    return case


def test_an_experiment_that_did_not_run_is_skipped_not_failed(tmp_path: Path) -> None:
    report = {
        "chaos": [
            {
                "name": "db-latency-under-load",
                "status": "not_run",
                "effect_observed": False,
                "recovered": False,
                "error": "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL",
            }
        ]
    }
    case = _case(_junit(report, tmp_path), "chaos", "db-latency-under-load")
    assert case.find("failure") is None
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL"


def test_a_gate_message_gives_the_estimate_and_the_bound_it_was_decided_on(
    tmp_path: Path,
) -> None:
    gate = {
        "name": "test_success",
        "outcome": "fail",
        "observed": 0.0,
        "threshold": 0.8,
        "comparison": ">=",
        "detail": "0/3 test runs passed",
        "decided_on": 0.6315968501359253,
        "decided_by": "one-sided 95% upper bound",
    }
    failure = _case(_junit({"gates": [gate]}, tmp_path), "gates", "test_success").find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "fail: observed 0, decided on 0.6316 (one-sided 95% upper bound) >= 0.8; "
        "0/3 test runs passed"
    )


def test_trials_needed_only_while_the_test_is_undecided(tmp_path: Path) -> None:
    tests = [
        {"nodeid": "t.py::decided", "n": 3, "passed": 0, "failed": 3, "decision": "fail",
         "trials_needed": 73},
        {"nodeid": "t.py::open", "n": 3, "passed": 3, "decision": "insufficient",
         "trials_needed": 2992},
    ]  # fmt: skip
    root = _junit({"tests": tests}, tmp_path)

    def needed(name: str) -> str | None:
        out = _case(root, "t", name).findtext("system-out") or ""
        return dict(line.split(": ", 1) for line in out.splitlines())["trials_needed"]

    assert needed("decided") == "-"
    assert needed("open") == "2992"


SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "junit.xsd"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "smoke-gate" / "report.json"


def test_junit_validates_against_the_schema_jenkins_and_gitlab_read(tmp_path: Path) -> None:
    import json

    import xmlschema

    schema = xmlschema.XMLSchema(str(SCHEMA))
    real = json.loads(GOLDEN.read_text())  # what a real smoke gate measured
    broken = {
        "run_id": "r", "started_at": "2026-12-02T10:00:00.123+00:00",
        "tests": [
            {"nodeid": "t.py::fails", "n": 3, "passed": 1, "failed": 2, "decision": "fail",
             "messages": ["assert 1 == 2"]},
            {"nodeid": "t.py::hangs", "n": 2, "passed": 0, "failed": 0, "timeouts": 2,
             "decision": "fail"},
            {"nodeid": "t.py::none", "n": 0, "passed": 0, "decision": "insufficient"},
        ],
    }  # fmt: skip
    for i, report in enumerate((real, broken)):
        (tmp_path / str(i)).mkdir()
        # raises, naming the element and why, when the file does not follow the schema
        schema.validate(str(write_junit(report, tmp_path / str(i))))
    root = ET.parse(tmp_path / "1" / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    assert _case(root, "t", "hangs").find("error") is not None  # only timeouts: an error
    assert _case(root, "t", "fails").find("failure") is not None
