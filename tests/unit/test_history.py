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
