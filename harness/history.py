"""The run history, ``reports/history.jsonl``: one line per finished run.

Written by the report writers when a run ends; read by the tests phase (a test's record
across runs of the same commit) and by the HTML trend. Neither reaches into the other:
both come here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.values import as_count, as_list, as_map

__all__ = [
    "History",
    "append_history",
    "comparable_key",
    "history_line",
    "load_shape",
    "read_history",
]


def comparable_key(report: Mapping[str, Any]) -> str:
    """What makes two runs comparable (a baseline): the same command, profile, kind of
    target, target (when it is not the reference API), test selection and locustfile."""
    target = as_map(as_map(report.get("components")).get("target"))
    kind = str(target.get("kind") or "")
    where = "" if kind == "embedded" else str(report.get("target_url") or "")
    selection = as_map(as_map(report.get("test_run")).get("selection"))
    chosen = json.dumps(dict(selection), sort_keys=True) if selection else ""
    parts = [str(report.get("command") or ""), str(report.get("profile") or ""), kind, where]
    key = "|".join([*parts, chosen])
    # a user's locustfile is another load altogether: compared only with runs of the same
    locustfile = as_map(report.get("load")).get("locustfile")
    return f"{key}|locustfile={locustfile}" if locustfile else key


def load_shape(report: Mapping[str, Any]) -> str:
    """What the run's load was, for a baseline: its model, its intended rate (open model) or
    its users and processes (closed), and the names of its requests. Two loads of another
    shape (500 req/s then 200, /healthz then /ping) are not a regression of each other;
    their length is no part of it. "" for a run with no load."""
    load = as_map(report.get("load"))
    if not load:
        return ""
    model = str(load.get("model") or "")
    if model == "open":
        size = f"rate={load.get('intended_rate_rps')}"
    else:
        size = f"users={load.get('users')},processes={load.get('processes')}"
    names = sorted(str(as_map(r).get("name")) for r in as_list(load.get("by_request")))
    return f"{model}|{size}|{','.join(names)}"


def history_line(report: Mapping[str, Any]) -> dict[str, Any]:
    """The run's line in history.jsonl: its verdict, and per test ``[passed, n]`` for the
    accumulation across runs of the same commit. Also what the HTML trend reads."""
    tests = [as_map(t) for t in as_list(report.get("tests"))]
    load = as_map(report.get("load"))
    return {
        "run_id": report.get("run_id"),
        "finished_at": report.get("finished_at"),
        "verdict": report.get("verdict"),
        "status": report.get("status"),
        "profile": report.get("profile"),
        "git_commit": report.get("git_commit"),
        "git_dirty": report.get("git_dirty", True),
        "command": report.get("command"),
        "comparable": comparable_key(report),
        "load_shape": load_shape(report),
        "tests_passed": sum(as_count(t.get("passed")) or 0 for t in tests),
        "tests_n": sum(as_count(t.get("n")) or 0 for t in tests),
        "tests": {
            str(t["nodeid"]): [as_count(t.get("passed")) or 0, as_count(t.get("n")) or 0]
            for t in tests
            if "nodeid" in t
        },
        "load_p95_ms": as_map(load.get("latency_ms")).get("p95"),
        "load_p99_ms": as_map(load.get("latency_ms")).get("p99"),
        "load_rps": load.get("rps"),
        "chaos_recovery_p95_s": _slowest_recovery_p95(report),
        "availability_lower": as_map(report.get("availability")).get("lower"),
    }


def _slowest_recovery_p95(report: Mapping[str, Any]) -> float | None:
    """The largest p95 recovery among the run's chaos experiments (None without one)."""
    values = [
        as_map(as_map(e).get("recovery_summary")).get("p95_s") for e in as_list(report.get("chaos"))
    ]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return max(numbers) if numbers else None


@dataclass(frozen=True, slots=True)
class History:
    """The earlier runs of ``history.jsonl``, and the lines that could not be read.

    A line that is not a JSON object (a write cut short by a crash, a hand edit) is not
    evidence: it is left out, and ``skipped`` says which line and why, so that the run
    that reads it can say so instead of quietly accumulating less."""

    runs: tuple[dict[str, Any], ...] = ()
    skipped: tuple[str, ...] = ()


class _Line(BaseModel):
    """What a history line must hold to be evidence (other keys are kept, for newer
    writers): the accumulation reads ``tests``, the trend the figures."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    verdict: str | None = None
    status: str | None = None
    profile: str | None = None
    command: str | None = None
    git_commit: str | None = None
    git_dirty: bool = True
    tests_passed: int = Field(default=0, ge=0)
    tests_n: int = Field(default=0, ge=0)
    tests: dict[str, tuple[int, int]] = {}
    load_p95_ms: float | None = None
    load_p99_ms: float | None = None
    load_rps: float | None = None
    chaos_recovery_p95_s: float | None = None
    availability_lower: float | None = None

    @model_validator(mode="after")
    def _counts(self) -> _Line:
        bad = [k for k, (passed, n) in self.tests.items() if not 0 <= passed <= n]
        if bad:
            raise ValueError(f"tests {bad[0]!r}: [passed, n] with 0 <= passed <= n")
        if self.tests_passed > self.tests_n:
            raise ValueError("tests_passed is more than tests_n")
        return self


def _why(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the line"
    return f"{where}: {first['msg']}"


def read_history(root: Path) -> History:
    path = root / "history.jsonl"
    if not path.exists():
        return History()
    runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        if not isinstance(entry, dict):
            skipped.append(f"{path}:{number}: a {type(entry).__name__}, not a run")
            continue
        try:
            _Line.model_validate(entry)
        except ValidationError as exc:
            skipped.append(f"{path}:{number}: not a run line ({_why(exc)})")
            continue
        runs.append(entry)
    return History(tuple(runs), tuple(skipped))


def append_history(report: Mapping[str, Any], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "history.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(history_line(report), sort_keys=True) + "\n")
