import json
from pathlib import Path

import pytest

from harness.plugin import base_nodeid
from harness.runner.pytest_runs import _RecordsTail
from harness.runner.records import (
    CutOffRun,
    RunRecord,
    aggregate,
    cut_off_line,
    in_flight,
    read_cut_offs,
    read_records,
)


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


def _started(run_nodeid: str, t: float = 100.0) -> dict[str, object]:
    return {
        "event": "started",
        "nodeid": base_nodeid(run_nodeid),
        "run_nodeid": run_nodeid,
        "repeat": 1,
        "t": t,
    }


def _ended(run_nodeid: str, outcome: str = "passed", **extra: object) -> dict[str, object]:
    return {
        "nodeid": base_nodeid(run_nodeid),
        "run_nodeid": run_nodeid,
        "outcome": outcome,
        "duration_s": 0.1,
        **extra,
    }


def test_event_lines_are_not_read_as_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    lines = [{"event": "collected", "count": 2}, _started("t::a"), _ended("t::a")]
    lines.append(cut_off_line(CutOffRun("t::b", "t::b", 1, 5.0, "budget"), t=1.0))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [(r.nodeid, r.outcome) for r in read_records(path)] == [("t::a", "passed")]
    assert read_cut_offs(path) == [CutOffRun("t::b", "t::b", 1, 5.0, "budget")]


def test_a_run_that_started_and_did_not_end_is_in_flight() -> None:
    lines = [
        _started("t::a[moonbase-r1]", t=10.0),
        _started("t::a[moonbase-r2]", t=11.0),
        _ended("t::a[moonbase-r1]"),
        _started("t::b", t=12.0),
        _ended("t::b", "failed", rerun=True),  # an attempt ended; its retry goes on
        _started("t::c"),
        _ended("t::c", "timeout"),
    ]
    running = in_flight(lines)
    assert [(r.run_nodeid, r.nodeid, r.started_t) for r in running] == [
        ("t::a[moonbase-r2]", "t::a", 11.0),
        ("t::b", "t::b", 12.0),
    ]


def test_a_run_id_reused_by_a_later_batch_is_in_flight_again_until_it_ends() -> None:
    first = [_started("t::a"), _ended("t::a")]
    assert in_flight(first) == []
    assert [r.run_nodeid for r in in_flight([*first, _started("t::a")])] == ["t::a"]
    cut = cut_off_line(CutOffRun("t::a", "t::a", 1, 1.0, "budget"), t=1.0)
    assert in_flight([*first, _started("t::a"), cut]) == []  # recorded once, not again


def test_cut_off_runs_are_listed_but_are_no_trials() -> None:
    runs = [RunRecord("t::fast", "passed", 0.1)] * 3
    cut = [
        CutOffRun("t::hangs", "t::hangs", 1, 95.5, "budget"),
        CutOffRun("t::fast", "t::fast[moonbase-r4]", 4, 0.2, "budget"),
    ]
    tests = {t.nodeid: t for t in aggregate(runs, cut)}
    hangs, fast = tests["t::hangs"], tests["t::fast"]
    assert (hangs.n, hangs.passed, hangs.failures, hangs.cut_off) == (0, 0, 0, 1)
    assert (fast.n, fast.passed, fast.cut_off) == (3, 3, 1)
    body = hangs.to_json(slo=0.9)
    assert (body["n"], body["passed"], body["failed"], body["timeouts"]) == (0, 0, 0, 0)
    assert body["cut_off"] == 1
    assert body["cut_off_running_s"] == [95.5]
    assert body["pass_rate"] is None
    assert fast.to_json(slo=0.9)["cut_off"] == 1
    assert aggregate(runs)[0].to_json(slo=0.9)["cut_off"] == 0


def test_the_progress_total_waits_for_each_batch_and_never_falls_below_the_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.jsonl"
    path.touch()
    tail = _RecordsTail(path)

    def append(*lines: dict[str, object]) -> None:
        with path.open("a") as fh:
            fh.write("".join(json.dumps(line) + "\n" for line in lines))

    tail.begin_batch()
    append({"event": "collected", "count": 10})
    append(*[_ended(f"t::a[moonbase-r{i}]") for i in range(1, 11)])
    tail.read_new()
    assert (tail.runs, tail.expected) == (10, 10)
    # --until-confident adds a batch of 20: the previous batch's count says nothing of it
    tail.begin_batch()
    assert tail.expected is None
    append({"event": "collected", "count": 20})
    append(*[_ended(f"t::a[moonbase-r{i}]") for i in range(1, 20)])
    tail.read_new()
    assert (tail.runs, tail.expected) == (29, 30)
    # a rerun adds a run nobody collected: the total grows with it
    append(_ended("t::a[moonbase-r20]", "failed", rerun=True), _ended("t::a[moonbase-r20]"))
    append({"nodeid": "t::b", "outcome": "skipped"}, _started("t::c"))
    tail.read_new()
    assert tail.runs == 32
    assert tail.expected == 32
    assert tail.failures == 1


def test_the_tail_folds_runs_as_it_reads_and_waits_for_a_line_being_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.jsonl"
    done = (json.dumps(_started("t::a[moonbase-r1]")) + "\n").encode()
    done += (json.dumps(_ended("t::a[moonbase-r1]", "failed", message="boom")) + "\n").encode()
    storing = (json.dumps(_ended("t::a[moonbase-r2]")) + "\n").encode()
    # the journal's unwritten tail is NUL; a line being stored can show its newline first
    path.write_bytes(done + b"\0" * 10 + storing[10:] + b"\0" * 100)
    tail = _RecordsTail(path)
    tail.read_new()
    (test,) = tail.tally.records()
    assert (test.n, test.failed, test.outcome_codes, test.messages) == (1, 1, "f", ("boom",))
    path.write_bytes(done + storing + b"\0" * 100)  # now whole
    tail.read_new()
    (test,) = tail.tally.records()
    assert (test.n, test.passed, test.outcomes) == (2, 1, ("failed", "passed"))
    assert test.flaky


def test_a_test_keeps_a_byte_per_run_and_a_bounded_number_of_messages() -> None:
    runs = [RunRecord("a", "failed", 0.001 * i, message=f"boom {i}") for i in range(1, 1001)]
    (test,) = aggregate(runs)
    assert len(test.messages) == 20  # distinct failure messages kept: MAX_MESSAGES
    assert test.outcome_codes == "f" * 1000
    assert test.duration_s == {"p50": 0.501, "p95": 0.951, "max": 1.0}
