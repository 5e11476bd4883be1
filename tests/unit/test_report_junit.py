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


def _load_properties(root: ET.Element) -> dict[str, str]:
    (suite,) = [s for s in root.iter("testsuite") if s.get("name") == "load"]
    assert suite.get("tests") == "0"  # facts only: the load is judged by its gates
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def test_the_load_suite_says_a_generated_user_on_one_process_sent_the_load(
    tmp_path: Path,
) -> None:
    import json

    real = json.loads(GOLDEN.read_text())  # a real smoke gate: the generated user, 1 process
    assert _load_properties(_junit(real, tmp_path)) == {
        "load.generated_by": "the harness's generated user, run by one Locust process",
        "load.generator": "generated user",
        "load.processes": "1",
    }


def test_the_load_suite_names_the_locustfile_and_how_many_workers_finished(
    tmp_path: Path,
) -> None:
    import xmlschema

    load = {"requests": 10, "failures": 0, "locustfile": "/work/shop.py", "processes": 1,
            "workers": {"expected": 2, "finished": 1}}  # fmt: skip
    path = write_junit({"load": load, "gates": []}, tmp_path)
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(path))  # properties where junit-10 has them
    root = ET.parse(path).getroot()
    properties = _load_properties(root)
    assert properties["load.generated_by"] == (
        "the locustfile /work/shop.py, run by a Locust master and 2 local worker processes: "
        "1 of 2 workers finished (a lost worker's requests went with it: the counts are the "
        "others')"
    )  # the words of summary.md and index.html
    assert properties["load.generator"] == "locustfile"
    assert properties["load.locustfile"] == "/work/shop.py"
    assert (properties["load.workers.expected"], properties["load.workers.finished"]) == ("2", "1")
    assert "load.master_bind" not in properties  # local workers: no address they joined
    assert root.get("tests") == "0"  # no testcase added to the totals


def test_a_load_worker_master_address_is_a_property_and_no_load_means_no_load_suite(
    tmp_path: Path,
) -> None:
    load = {"processes": 3, "workers": {"expected": 3, "finished": 3},
            "master_bind": "127.0.0.1:5557"}  # fmt: skip
    (tmp_path / "a").mkdir()
    properties = _load_properties(_junit({"load": load}, tmp_path / "a"))
    assert properties["load.master_bind"] == "127.0.0.1:5557"
    assert properties["load.generator"] == "generated user"
    assert "load.locustfile" not in properties
    (tmp_path / "b").mkdir()
    root = _junit({"tests": []}, tmp_path / "b")
    assert [s.get("name") for s in root.iter("testsuite")] == ["tests", "gates", "chaos"]
