"""history.jsonl feeds accumulated evidence: a line that cannot be read is said, not dropped."""

from __future__ import annotations

import json
from pathlib import Path

from harness.history import read_history


def test_a_missing_history_is_empty(tmp_path: Path) -> None:
    history = read_history(tmp_path)
    assert history.runs == ()
    assert history.skipped == ()


def test_corrupt_history_lines_are_named_with_their_line_number(tmp_path: Path) -> None:
    good = {"run_id": "r1", "tests": {"t::a": [3, 3]}}
    (tmp_path / "history.jsonl").write_text(
        json.dumps(good) + "\n" + '{"run_id": "r2", "tes\n' + "\n" + "[1, 2]\n",
        encoding="utf-8",
    )
    history = read_history(tmp_path)
    assert history.runs == (good,)
    assert len(history.skipped) == 2
    first, second = history.skipped
    assert first.startswith(f"{tmp_path / 'history.jsonl'}:2: not JSON")
    assert second == f"{tmp_path / 'history.jsonl'}:4: a list, not a run"


def test_lines_that_are_json_but_not_runs_are_named_with_what_is_wrong(tmp_path: Path) -> None:
    good = {"run_id": "r1", "tests": {"t::a": [3, 3]}, "load_rps": 12.5, "newer_key": 1}
    lines = [
        good,
        {"tests": {"t::a": [1, 1]}},  # no run_id
        {"run_id": "r3", "tests": {"t::a": [4, 3]}},  # more passed than ran
        {"run_id": "r4", "tests": {"t::a": "3/3"}},
        {"run_id": "r5", "load_rps": "fast"},
    ]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    history = read_history(tmp_path)
    assert history.runs == (good,)  # a key a newer writer added is kept
    assert [s.split(": ", 1)[0] for s in history.skipped] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "run_id: Field required" in history.skipped[0]
    assert "0 <= passed <= n" in history.skipped[1]
    assert "tests.t::a" in history.skipped[2]
    assert "load_rps" in history.skipped[3]
