"""The live progress total is honest: with --until-confident it grows a batch at a time and
never shows fewer runs than have ended (no "29/22")."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner import Progress, RunSpec, run_tests

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_progress_total_grows_with_each_until_confident_batch(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_stable.py").write_text("def test_stable():\n    pass\n")
    seen: list[Progress] = []
    spec = RunSpec(
        rootdir=root,
        workers="2",
        repeat=5,
        timeout_s=30.0,
        budget_s=150.0,
        until_confident=True,
        slo=0.9,  # 29 clean runs decide it: batches of 5, 10 and 14 runs
    )
    result = run_tests(spec, tmp_path / "runs.jsonl", on_progress=seen.append)
    assert result.batches >= 3
    shown = [(p.runs, p.expected) for p in seen if p.expected is not None]
    assert [(done, total) for done, total in shown if done > total] == []
    totals = [total for _, total in shown]
    assert totals == sorted(totals)  # it only grows
    last = seen[-1]
    assert last.runs == last.expected == result.run_count == result.tests[0].n
