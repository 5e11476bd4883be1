"""With GITHUB_STEP_SUMMARY set, a run's summary.md is appended to the job summary; a
re-render (``report``) does not append it again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.writers import write_all

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "smoke-gate" / "report.json"


def test_the_summary_is_appended_to_the_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "step-summary.md"
    page.write_text("## an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    report = json.loads(GOLDEN.read_text())
    run_dir = tmp_path / "reports" / str(report["run_id"])
    run_dir.mkdir(parents=True)
    write_all(report, run_dir, tmp_path / "reports")
    summary = (run_dir / "summary.md").read_text()
    assert page.read_text() == "## an earlier step\n" + summary
    write_all(report, run_dir, tmp_path / "reports", history=[])  # `report` re-rendering
    assert page.read_text() == "## an earlier step\n" + summary


def test_an_unwritable_job_summary_is_said_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no-such-dir" / "summary.md"))
    report = json.loads(GOLDEN.read_text())
    run_dir = tmp_path / "reports" / "run"
    run_dir.mkdir(parents=True)
    paths = write_all(report, run_dir, tmp_path / "reports")
    assert paths["markdown"].exists()
    assert "GITHUB_STEP_SUMMARY" in capsys.readouterr().err
