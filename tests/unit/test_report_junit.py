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


def test_trials_needed_property_only_while_the_test_is_undecided(tmp_path: Path) -> None:
    tests = [
        {"nodeid": "t.py::decided", "n": 3, "passed": 0, "failed": 3, "decision": "fail",
         "trials_needed": 73},
        {"nodeid": "t.py::open", "n": 3, "passed": 3, "decision": "insufficient",
         "trials_needed": 2992},
    ]  # fmt: skip
    root = _junit({"tests": tests}, tmp_path)

    def needed(name: str) -> str | None:
        props = _case(root, "t", name).find("properties")
        assert props is not None
        return {p.get("name"): p.get("value") for p in props}["trials_needed"]

    assert needed("decided") == "-"
    assert needed("open") == "2992"
