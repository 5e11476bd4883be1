"""``--processes N|auto`` on ``load`` and ``gate``, through the CLI against the reference API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


def test_load_with_two_processes_runs_a_master_and_two_workers_and_merges_exactly(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "load", "--processes", "2", "--users", "4", "--rate", "200", "--duration", "2",
        "--baseline", "none", "--report-dir", str(tmp_path), timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    load = json.loads((tmp_path / "latest" / "report.json").read_text())["load"]
    assert load["processes"] == 2
    # the open-model schedule: 200 req/s for 2 s, split between the two workers
    assert load["requests"] == load["samples"] == 400
    assert sum(p["requests"] for p in load["timeline"]) == 400


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("load", ["--processes", "3"], "--processes 3 with 10 users"),
        ("load", ["--processes", "0"], "--processes '0': must be an integer from 1 to 64"),
        ("gate", ["--processes", "many"], "--processes 'many': must be an integer from 1 to 64"),
    ],
)
def test_bad_processes_are_exit_2_before_anything_starts(
    tmp_path: Path, command: str, args: list[str], message: str
) -> None:
    reports = tmp_path / "reports"
    result = run_cli(command, *args, "--report-dir", str(reports), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not list(reports.glob("*/report.json"))
