"""A baseline is a run of the same load: its model, its intended rate or its users and
processes, its requests; not its length (harness.history.load_shape, used by
harness.baseline.find_baseline for ``--baseline auto``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.baseline import find_baseline
from harness.history import history_line, load_shape
from harness.report.files import SCHEMA


def _load(**fields: Any) -> dict[str, Any]:
    load = {"model": "open", "intended_rate_rps": 500.0, "users": 20, "processes": 1}
    load["by_request"] = [{"name": "GET /healthz"}]
    return {"load": {**load, **fields}}


def test_another_rate_users_or_request_is_another_load_and_the_length_is_not() -> None:
    base = load_shape(_load())
    assert base == "open|rate=500.0|GET /healthz"
    assert load_shape(_load(duration_s=60.0, requests=30_000)) == base  # longer: the same
    assert load_shape(_load(intended_rate_rps=200.0)) != base
    assert load_shape(_load(by_request=[{"name": "GET /ping"}])) != base
    closed = _load(model="closed", intended_rate_rps=None)
    assert load_shape(closed) == "closed|users=20,processes=1|GET /healthz"
    assert load_shape({**closed, "load": {**closed["load"], "users": 40}}) != load_shape(closed)
    assert load_shape({"load": None}) == load_shape({}) == ""  # a run with no load
    assert history_line({"run_id": "r", **_load()})["load_shape"] == base


def _run(root: Path, run_id: str, rate: float, *, old: bool = False) -> dict[str, Any]:
    """A passing run's report.json and its history line (``old``: written before the lines
    kept the load's shape)."""
    report = {"schema": SCHEMA, "run_id": run_id, "verdict": "pass", **_load()}
    report["load"]["intended_rate_rps"] = rate
    (root / run_id).mkdir(parents=True)
    (root / run_id / "report.json").write_text(json.dumps(report))
    line = {"run_id": run_id, "verdict": "pass", "comparable": "load|k"}
    return line if old else {**line, "load_shape": load_shape(report)}


def test_auto_takes_the_newest_passing_run_of_the_same_load(tmp_path: Path) -> None:
    history = [_run(tmp_path, "a-500", 500.0), _run(tmp_path, "b-200", 200.0)]
    at_500 = load_shape(_load())
    found = find_baseline("auto", tmp_path, "load|k", history, at_500)
    assert found is not None
    assert found.run_id == "a-500"  # the newer run sent 200 req/s: not a baseline of 500
    at_300 = load_shape(_load(intended_rate_rps=300.0))
    assert find_baseline("auto", tmp_path, "load|k", history, at_300) is None


def test_the_history_lines_shape_decides_and_an_old_line_is_judged_by_its_report(
    tmp_path: Path,
) -> None:
    at_500 = load_shape(_load())
    history = [_run(tmp_path, "a-500", 500.0, old=True), _run(tmp_path, "b-200", 200.0)]
    # b-200's line says another load: its report is not even read (here: not readable)
    (tmp_path / "b-200" / "report.json").write_text("{not json")
    found = find_baseline("auto", tmp_path, "load|k", history, at_500)
    assert found is not None
    assert found.run_id == "a-500"  # its report says 500 req/s
    history = [_run(tmp_path, "c-200", 200.0, old=True)]
    assert find_baseline("auto", tmp_path, "load|k", history, at_500) is None
