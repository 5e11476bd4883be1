import json
from pathlib import Path

import pytest

from harness.plugin import base_nodeid
from harness.runner.records import RunRecord, aggregate, read_records


@pytest.mark.parametrize(
    ("nodeid", "base"),
    [
        ("t.py::test_a[moonbase-r3]", "t.py::test_a"),
        ("t.py::test_a[x-moonbase-r12]", "t.py::test_a[x]"),
        ("t.py::test_a[moonbase-r1-PUT-/api/v0/x]", "t.py::test_a[PUT-/api/v0/x]"),
        ("t.py::test_a[a-moonbase-r2-b]", "t.py::test_a[a-b]"),
        ("t.py::test_a[x]", "t.py::test_a[x]"),
        ("t.py::test_a", "t.py::test_a"),
    ],
)
def test_base_nodeid_strips_only_the_repeat_parameter(nodeid: str, base: str) -> None:
    assert base_nodeid(nodeid) == base


def test_a_test_with_both_outcomes_is_flaky_and_sorted_first() -> None:
    runs = [RunRecord("a", "passed", 0.1)] * 5 + [RunRecord("b", "passed", 0.1)] * 4
    runs += [RunRecord("b", "failed", 0.1)]
    tests = aggregate(runs)
    assert [t.nodeid for t in tests] == ["b", "a"]
    assert tests[0].flaky
    assert (tests[0].passed, tests[0].n) == (4, 5)
    assert not tests[1].flaky


def test_timeouts_and_errors_count_as_runs_skips_do_not() -> None:
    runs = [
        RunRecord("a", "timeout", 2.0),
        RunRecord("a", "error", 0.0),
        RunRecord("a", "skipped", 0.0),
        RunRecord("a", "passed", 0.1),
    ]
    (test,) = aggregate(runs)
    assert (test.n, test.passed, test.timeouts, test.errors, test.skipped) == (4 - 1, 1, 1, 1, 1)


def test_a_rerun_that_passes_is_a_flake_not_a_pass() -> None:
    runs = [RunRecord("a", "failed", 0.1, rerun=True), RunRecord("a", "passed", 0.1)]
    (test,) = aggregate(runs)
    assert test.flaky
    assert (test.passed, test.n) == (1, 2)


def test_report_json_carries_interval_and_trials_needed() -> None:
    runs = [RunRecord("a", "passed", 0.1)] * 53 + [RunRecord("a", "failed", 0.1)] * 4
    (test,) = aggregate(runs)
    body = test.to_json(slo=0.999)
    assert body["pass_rate"]["method"] == "clopper-pearson"  # type: ignore[index]
    assert round(body["pass_rate"]["low"], 4) == 0.8300  # type: ignore[index]
    assert round(body["pass_rate"]["high"], 4) == 0.9805  # type: ignore[index]
    assert body["decision"] == "fail"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    good = json.dumps({"nodeid": "a", "outcome": "passed", "duration_s": 0.1})
    path.write_text(good + "\n" + '{"nodeid": "a", "outc')
    assert [r.outcome for r in read_records(path)] == ["passed"]
