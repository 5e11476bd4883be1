"""Allure 2 results: one valid result file per test, gate and chaos experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.report.allure import result_statuses, write_allure_results

# The fields Allure 2's reader needs to place a result (io.qameta.allure.entity.TestResult).
REQUIRED = {"uuid", "historyId", "name", "fullName", "status", "stage", "labels"}
ALLURE_STATUSES = {"passed", "failed", "broken", "skipped", "unknown"}


def report() -> dict[str, Any]:
    return {
        "schema": "moonbase-reliability/1",
        "run_id": "run-42",
        "status": "completed",
        "verdict": "fail",
        "exit_code": 1,
        "started_at": "2026-11-27T20:35:00+00:00",
        "finished_at": "2026-11-27T20:41:12Z",
        "profile": "smoke",
        "components": {"load generator": {"kind": "embedded", "detail": "locust, one process"}},
        "tests": [
            {"nodeid": "scenarios/test_api.py::test_ping", "n": 50, "passed": 50, "failed": 0,
             "errors": 0, "timeouts": 0, "flaky": False, "outcomes": ["passed"] * 50},
            {"nodeid": "scenarios/test_jobs.py::test_retry", "n": 57, "passed": 53, "failed": 4,
             "errors": 0, "timeouts": 0, "flaky": True, "trials_needed": 4742,
             "decision": "insufficient",
             "pass_rate": {"estimate": 0.93, "low": 0.8300, "high": 0.9805,
                           "method": "clopper-pearson", "confidence": 0.95}},
            {"nodeid": "scenarios/test_jobs.py::test_hang", "n": 3, "passed": 0, "failed": 0,
             "errors": 1, "timeouts": 2, "flaky": False, "decision": "fail",
             "trials_needed": 73},
            {"nodeid": "scenarios/test_x.py::test_never_ran", "n": 0, "passed": 0},
        ],
        "gates": [
            {"name": "test_success", "outcome": "insufficient", "observed": 0.93,
             "threshold": 0.999, "comparison": ">="},
            {"name": "load_p95_ms", "outcome": "pass", "observed": 2.0, "threshold": 10.0,
             "comparison": "<="},
            {"name": "load_error_rate", "outcome": "fail", "observed": 0.01,
             "threshold": 0.001, "comparison": "<="},
        ],
        "chaos": [
            {"name": "latency", "fault": {"type": "latency", "attributes": {"latency": 100}},
             "effect_observed": True, "recovered": True, "recovery_s": 0.4},
            {"name": "db-down", "fault": {"type": "timeout"}, "effect_observed": True,
             "recovered": False},
            {"name": "no-effect", "fault": {"type": "bandwidth"}, "effect_observed": False,
             "recovered": True},
            {"name": "db-latency-under-load", "status": "not_run",
             "fault": {"type": "latency", "attributes": {"latency": 300}},
             "effect_observed": False, "recovered": False, "recovery_s": None,
             "injections": [], "error": "not run: needs PostgreSQL: set MOONBASE_DATABASE_URL"},
        ],
    }  # fmt: skip


def load_results(paths: list[Path]) -> dict[str, dict[str, Any]]:
    out = {}
    for path in paths:
        if path.name.endswith("-result.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            out[data["fullName"]] = data
    return out


def test_every_result_file_is_valid_allure_json(tmp_path: Path) -> None:
    paths = write_allure_results(report(), tmp_path / "allure-results")
    results = load_results(paths)
    assert len(results) == 4 + 3 + 4
    for path in paths:
        assert path.parent == tmp_path / "allure-results"
        assert path.exists()
    for data in results.values():
        assert REQUIRED <= data.keys()
        assert data["status"] in ALLURE_STATUSES
        assert data["stage"] == "finished"
        assert isinstance(data["start"], int)
        assert data["start"] <= data["stop"]
    uuids = [d["uuid"] for d in results.values()]
    assert len(set(uuids)) == len(uuids)
    for data in results.values():
        assert (tmp_path / "allure-results" / f"{data['uuid']}-result.json").exists()


def test_test_statuses_follow_the_runs(tmp_path: Path) -> None:
    statuses = result_statuses(write_allure_results(report(), tmp_path))
    assert statuses["tests: scenarios/test_api.py::test_ping"] == "passed"
    assert statuses["tests: scenarios/test_jobs.py::test_retry"] == "failed"
    assert statuses["tests: scenarios/test_jobs.py::test_hang"] == "broken"
    assert statuses["tests: scenarios/test_x.py::test_never_ran"] == "skipped"


def test_gate_and_chaos_statuses(tmp_path: Path) -> None:
    statuses = result_statuses(write_allure_results(report(), tmp_path))
    assert statuses["gates: load_p95_ms"] == "passed"
    assert statuses["gates: load_error_rate"] == "failed"
    assert statuses["gates: test_success"] == "unknown"  # insufficient evidence
    assert statuses["chaos: latency"] == "passed"
    assert statuses["chaos: db-down"] == "failed"
    assert statuses["chaos: no-effect"] == "broken"


def test_flaky_test_carries_k_of_n_and_intervals_as_parameters(tmp_path: Path) -> None:
    results = load_results(write_allure_results(report(), tmp_path))
    flaky = results["tests: scenarios/test_jobs.py::test_retry"]
    params = {p["name"]: p["value"] for p in flaky["parameters"]}
    assert params["passed k/n"] == "53/57"
    assert params["95% Clopper-Pearson"] == "[0.8300, 0.9805]"
    assert params["95% Wilson"].startswith("[0.8")
    assert params["95% Jeffreys"].startswith("[0.8")
    assert params["trials needed"] == "4742"
    assert flaky["statusDetails"]["flaky"] is True
    assert "53/57 [0.8300, 0.9805] (95% CP)" in flaky["statusDetails"]["message"]
    assert {"name": "tag", "value": "flaky"} in flaky["labels"]


def test_outcomes_become_steps_in_run_order(tmp_path: Path) -> None:
    results = load_results(write_allure_results(report(), tmp_path))
    steps = results["tests: scenarios/test_api.py::test_ping"]["steps"]
    assert len(steps) == 50
    assert steps[0]["name"] == "run 1: passed"
    assert {s["status"] for s in steps} == {"passed"}


def test_history_ids_are_stable_across_runs_and_files_are_replaced(tmp_path: Path) -> None:
    first = load_results(write_allure_results(report(), tmp_path))
    again = load_results(write_allure_results(report(), tmp_path))
    other = report() | {"run_id": "run-43"}
    second = load_results(write_allure_results(other, tmp_path / "next"))
    assert {k: v["uuid"] for k, v in first.items()} == {k: v["uuid"] for k, v in again.items()}
    assert len(list(tmp_path.glob("*-result.json"))) == len(first)
    for name, data in first.items():
        assert data["historyId"] == second[name]["historyId"]
        assert data["uuid"] != second[name]["uuid"]


def test_environment_properties_escape_keys(tmp_path: Path) -> None:
    write_allure_results(report(), tmp_path)
    lines = (tmp_path / "environment.properties").read_text(encoding="ascii").splitlines()
    assert "run_id=run-42" in lines
    assert "verdict=fail" in lines
    assert r"component.load\ generator=embedded (locust, one process)" in lines


def test_categories_are_valid_json(tmp_path: Path) -> None:
    write_allure_results(report(), tmp_path)
    categories = json.loads((tmp_path / "categories.json").read_text(encoding="utf-8"))
    assert {c["name"] for c in categories} >= {"Insufficient evidence", "Flaky tests"}


@pytest.mark.parametrize(
    "crashed",
    [
        {},
        {"run_id": "r", "status": "crashed", "verdict": "error", "error": "TargetStartError: x"},
        {"run_id": "r", "status": "interrupted", "tests": None, "gates": [None], "chaos": "x",
         "started_at": "not a time"},
    ],
    ids=["empty", "crashed", "malformed"],
)  # fmt: skip
def test_crashed_or_empty_reports_still_give_valid_results(
    tmp_path: Path, crashed: dict[str, Any]
) -> None:
    paths = write_allure_results(crashed, tmp_path)
    for path in paths:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    statuses = result_statuses(paths)
    if crashed.get("status") in ("crashed", "interrupted"):
        assert statuses["run: r"] == "broken"
    results = load_results(paths)
    if "run: r" in results and crashed.get("error"):
        assert "TargetStartError: x" in results["run: r"]["statusDetails"]["message"]
    assert (tmp_path / "environment.properties").exists()


def test_trials_needed_is_a_parameter_only_while_the_test_is_undecided(tmp_path: Path) -> None:
    results = load_results(write_allure_results(report(), tmp_path))
    undecided = results["tests: scenarios/test_jobs.py::test_retry"]
    decided = results["tests: scenarios/test_jobs.py::test_hang"]  # 0/3: already "fail"
    assert {p["name"]: p["value"] for p in undecided["parameters"]}["trials needed"] == "4742"
    assert "trials needed" not in {p["name"] for p in decided["parameters"]}


def test_an_experiment_that_did_not_run_is_skipped_never_unrecovered(tmp_path: Path) -> None:
    results = load_results(write_allure_results(report(), tmp_path))
    not_run = results["chaos: db-latency-under-load"]
    assert not_run["status"] == "skipped"
    assert "needs PostgreSQL" in not_run["statusDetails"]["message"]
    assert "recover" not in not_run["statusDetails"]["message"]


def test_gate_result_carries_the_figure_it_was_decided_on(tmp_path: Path) -> None:
    data = report()
    data["gates"] = [
        {"name": "test_success", "outcome": "pass", "observed": 1.0, "threshold": 0.8,
         "comparison": ">=", "decided_on": 0.9528, "decided_by": "one-sided 95% lower bound"},
    ]  # fmt: skip
    gate = load_results(write_allure_results(data, tmp_path))["gates: test_success"]
    params = {p["name"]: p["value"] for p in gate["parameters"]}
    assert params["observed"] == "1.0"
    assert params["decided on"] == "0.9528 (one-sided 95% lower bound)"


def _runs_file(tmp_path: Path, nodeid: str, outcomes: list[str]) -> Path:
    path = tmp_path / "test-runs.jsonl"
    lines = [json.dumps({"event": "collected", "count": 1})]
    for i, outcome in enumerate(outcomes, start=1):
        lines.append(json.dumps({"event": "started", "nodeid": nodeid, "t": 1000.0 + i}))
        lines.append(
            json.dumps(
                {
                    "nodeid": nodeid,
                    "run_nodeid": f"{nodeid}[moonbase-r{i}]",
                    "repeat": i,
                    "outcome": outcome,
                    "duration_s": 0.01,
                    "t": 1000.0 + i,
                    "message": "" if outcome == "passed" else f"E   assert run {i}",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_results_of(out: Path, name: str) -> list[dict[str, Any]]:
    results = [json.loads(p.read_text()) for p in out.glob("*-result.json")]
    return sorted((r for r in results if r["name"] == name), key=lambda r: r["stop"])


def test_every_failed_run_is_kept_and_only_the_newest_ten_passes(tmp_path: Path) -> None:
    nodeid = "scenarios/test_jobs.py::test_retry"
    outcomes = ["passed"] * 57
    for i in (3, 20, 50):
        outcomes[i - 1] = "failed"
    runs = _runs_file(tmp_path, nodeid, outcomes)
    write_allure_results(report(), tmp_path / "out", runs_path=runs)
    kept = _run_results_of(tmp_path / "out", nodeid)
    assert [r["status"] for r in kept].count("failed") == 3
    assert sorted(r["statusDetails"]["message"] for r in kept if r["status"] == "failed") == [
        "assert run 20", "assert run 3", "assert run 50"]  # fmt: skip
    passed_stops = [r["stop"] for r in kept if r["status"] == "passed"]
    assert len(passed_stops) == 10
    # the newest ten passes: runs 47-49 and 51-57 (run 50 failed)
    assert passed_stops == [(1000.0 + i) * 1000 for i in (*range(47, 50), *range(51, 58))]


def test_failed_runs_beyond_the_cap_keep_the_newest(tmp_path: Path) -> None:
    nodeid = "scenarios/test_jobs.py::test_retry"
    runs = _runs_file(tmp_path, nodeid, ["failed"] * 130 + ["passed"] * 5)
    write_allure_results(report(), tmp_path / "out", runs_path=runs)
    kept = _run_results_of(tmp_path / "out", nodeid)
    assert len(kept) == 100  # the cap: no room is left for a pass
    assert {r["status"] for r in kept} == {"failed"}
    assert kept[0]["statusDetails"]["message"] == "assert run 31"


def test_a_run_starts_when_its_worker_began_it_not_when_its_line_was_written(
    tmp_path: Path,
) -> None:
    # two quick runs whose lines the controller wrote in one batch (the same "t"): each
    # keeps the start its worker stamped, and its stop is that start plus its duration
    nodeid = "scenarios/test_api.py::test_ping"
    path = tmp_path / "test-runs.jsonl"
    lines = [
        {"nodeid": nodeid, "run_nodeid": f"{nodeid}[moonbase-r{i}]", "repeat": i,
         "outcome": "passed", "duration_s": 0.004, "t": 2000.5, "start": start, "message": ""}
        for i, start in ((1, 2000.1), (2, 2000.3))
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    write_allure_results(report(), tmp_path / "out", runs_path=path)
    kept = _run_results_of(tmp_path / "out", nodeid)
    assert [(r["start"], r["stop"]) for r in kept] == [(2000100, 2000104), (2000300, 2000304)]
