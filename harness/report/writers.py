"""Writing a run's reports from its report.json content.

report.json is the source of truth; junit.xml, summary.md, index.html and allure-results/
are renderings of it, so ``reliable-test-runner report`` can re-render any run.
Every file is written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.history import append_history, history_line, read_history
from harness.report.files import SCHEMA, atomic_write
from harness.report.junit import write_junit
from harness.report.markdown import render_markdown

__all__ = [
    "SCHEMA",
    "render_markdown",
    "write_all",
    "write_json",
    "write_junit",
]


def write_json(report: Mapping[str, Any], run_dir: Path) -> Path:
    path = run_dir / "report.json"
    atomic_write(path, json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    return path


def _point_latest(root: Path, run_dir: Path) -> None:
    latest = root / "latest"
    tmp = root / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def _append_step_summary(markdown: str) -> None:
    """GitHub Actions' job summary: appended to the file ``GITHUB_STEP_SUMMARY`` names, when
    it is set (a CI page that cannot be written is said, and the run goes on)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(markdown)
    except OSError as exc:
        print(f"reliable-test-runner: GITHUB_STEP_SUMMARY {target!r}: {exc}", file=sys.stderr)


def _previous_allure_history(root: Path) -> Path | None:
    """The ``history/`` of the newest Allure report made from an earlier run: the one
    generated into the previous run's directory, or into ``reports/allure-report``."""
    places = (root / "latest" / "allure-report", root / "allure-report")
    found = [p / "history" for p in places if (p / "history").is_dir()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def write_all(
    report: Mapping[str, Any],
    run_dir: Path,
    root: Path,
    *,
    final: bool = True,
    history: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Every report file for a run; ``final`` also appends history and moves ``latest``."""
    paths = {"json": write_json(report, run_dir)}
    if not final:
        return paths
    from harness.report.allure import write_allure_results
    from harness.report.document import complete
    from harness.report.html import render_html

    document = complete(report)  # every figure the renderings show, derived once
    paths["junit"] = write_junit(document, run_dir)
    summary = run_dir / "summary.md"
    markdown = render_markdown(document) + "\n"
    atomic_write(summary, markdown)
    paths["markdown"] = summary
    if history is None:  # the run itself, not a re-render: its CI job's page gets it too
        _append_step_summary(markdown)
    past = list(history) if history is not None else list(read_history(root).runs)
    past = [h for h in past if h.get("run_id") != report.get("run_id")]  # its own line: below
    html = run_dir / "index.html"
    atomic_write(html, render_html(document, [*past, history_line(report)]))
    paths["html"] = html
    write_allure_results(
        document, run_dir / "allure-results", runs_path=run_dir / "test-runs.jsonl",
        history_from=_previous_allure_history(root) if history is None else None,
    )  # fmt: skip
    paths["allure"] = run_dir / "allure-results"
    if history is None:
        append_history(report, root)
    _point_latest(root, run_dir)
    return paths
