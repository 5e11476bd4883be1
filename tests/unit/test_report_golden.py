"""The schema users parse does not move: a recorded run, fed through the run record and its
one document builder, gives the report.json that the code before the record wrote.

``tests/golden/smoke-gate/`` holds what a real ``gate --profile smoke`` measured (the
runner's result, Locust's merged result, the chaos experiment's result and the history it
read, each as its dataclass's fields) and the report.json that run wrote. The test rebuilds
the components' values, runs them through the same steps the phases take (accumulation,
percentile bounds, gates) and compares the document field by field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import pydantic

from harness import gates, record, runner  # modules: their Test* classes are not test classes
from harness.chaos.executor import ExperimentResult
from harness.config import load_config
from harness.load import LoadResult
from harness.load.histogram import decode_histogram
from harness.load.percentiles import percentile_estimate
from harness.record import (
    ChaosOutcome,
    Component,
    ExperimentOutcome,
    LoadOutcome,
    RunOutcome,
    build_report,
)
from harness.runner.accumulate import accumulate

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "smoke-gate"


def _read(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _value(hint: Any, raw: Any) -> Any:
    """``raw`` (JSON) as a value of type ``hint``: dataclasses and tuples rebuilt."""
    origin = typing.get_origin(hint)
    if raw is None:
        return None
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _value(options[0], raw) if len(options) == 1 else raw
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_value(item, x) for x in raw)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _rebuild(hint, raw)
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):
        return hint.model_validate(raw)
    return raw


def _rebuild(cls: type, raw: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _value(hints[f.name], raw[f.name])
        for f in dataclasses.fields(cls)
        if f.name in raw and f.name != "interruption"
    }
    return cls(**kwargs)


def _gates_of_then(settings: Any, golden: dict[str, Any]) -> Any:
    """The profile's gates that the recorded run had: gates added to the profile since (the
    target's memory and CPU) judge evidence this recording does not hold."""
    then = {g["name"] for g in golden["gates"]}
    return settings.model_validate({k: v for k, v in settings.model_dump().items() if k in then})


def _recorded_outcome(golden: dict[str, Any]) -> RunOutcome:
    profile = load_config(profile=golden["profile"]).profile
    tests_result: runner.TestPhaseResult = _rebuild(runner.TestPhaseResult, _read("tests.json"))
    history = _read("history.json")
    run = golden["test_run"]
    accumulated = accumulate(
        tests_result.tests,
        history["runs"],
        commit=golden["git_commit"],
        dirty=golden["git_dirty"],
        slo=profile.tests.slo,
    )
    tests = record.TestsOutcome(
        result=tests_result,
        settings=profile.tests,
        seed=run["seed"],
        accumulated=accumulated,
        history_skipped=tuple(history["skipped"]),
    )
    load_result: LoadResult = _rebuild(LoadResult, _read("load.json"))
    histogram = decode_histogram(load_result.histogram)
    load = LoadOutcome(
        load_result, percentile_estimate(histogram, 0.95), percentile_estimate(histogram, 0.99)
    )
    chaos = ChaosOutcome(
        tuple(
            ExperimentOutcome(result, result.max_recovery_s)
            for result in (_rebuild(ExperimentResult, raw) for raw in _read("chaos.json"))
        )
    )
    evidence = gates.Evidence(tests.evidence(), load.evidence(), chaos.evidence())
    components = tuple(
        (name, Component(c["kind"], c["detail"], c.get("source")))
        for name, c in golden["components"].items()
    )
    return RunOutcome(
        command=golden["command"],
        run_id=golden["run_id"],
        started_at=golden["started_at"],
        profile=golden["profile"],
        config_source=golden["config_source"],
        git_commit=golden["git_commit"],
        git_dirty=golden["git_dirty"],
        components=components,
        target_url=golden["target_url"],
        tests=tests,
        load=load,
        chaos=chaos,
        gates=gates.evaluate_gates(_gates_of_then(profile.gates, golden), evidence),
        status=golden["status"],
        verdict=golden["verdict"],
        exit_code=golden["exit_code"],
        finished_at=golden["finished_at"],
        error=golden["error"],
        final=True,
    )


def test_a_recorded_gate_run_gives_the_report_json_the_code_before_the_record_wrote() -> None:
    golden = _read("report.json")
    built = json.loads(json.dumps(build_report(_recorded_outcome(golden))))
    assert sorted(built) == sorted(golden)
    for key in golden:
        assert built[key] == golden[key], f"report.json field {key!r} moved"


def test_a_checkpoint_before_any_phase_reads_as_crashed_with_empty_sections() -> None:
    report = build_report(RunOutcome(command="gate", run_id="r1", started_at="t0"))
    assert report["status"] == "crashed"
    assert report["verdict"] == "error"
    assert report["exit_code"] == 4
    assert report["tests"] == []
    assert report["chaos"] == []
    assert report["load"] is None
    assert "error" not in report  # only a finished run says why it ended
