"""`soak`: a long, bounded run of low-rate load and the prober, with faults on a schedule,
that ends by itself and keeps its evidence when stopped early."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _report(reports: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((reports / "latest" / "report.json").read_text())


def test_a_soak_runs_load_the_prober_and_a_fault_round_and_ends_by_itself(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "soak", "--duration", "25s", "--rate", "20", "--fault-every", "10s",
        "--report-dir", str(reports), timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = _report(reports)
    assert report["command"] == "soak"
    assert report["status"] == "completed"
    assert 25 * 20 * 0.8 <= report["load"]["requests"] <= 25 * 20 * 1.2  # 25 s at 20 req/s
    assert len(report["chaos"]) >= 1  # at least one round of the profile's experiments
    assert report["availability"]["probes"] > 100
    gates = {g["name"]: g["outcome"] for g in report["gates"]}
    assert gates["test_success"] == "off"  # a soak runs no tests: off, never missing evidence
    assert gates["chaos_recovery_s"] == "pass"


def test_a_soak_stopped_early_keeps_its_load_and_availability(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "soak", "--duration", "120s", "--rate", "20",
         "--report-dir", str(reports)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        probes = lambda: list(reports.glob("*/probes.jsonl"))  # noqa: E731
        poll_until(
            "200 probes recorded",
            lambda: bool(probes()) and len(probes()[0].read_text().splitlines()) >= 200,
            90,
        )
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    report = _report(reports)
    assert report["status"] == "interrupted"
    assert report["load"]["requests"] > 0
    assert report["load"]["interrupted"] is True or report["load"]["requests"] < 120 * 20
    assert report["availability"]["probes"] >= 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "soon"], "expected a duration such as 90s, 30m or 2h"),
        (["--duration", "2s"], "must be from 10 s to 24 h"),
        (["--duration", "20s", "--rate", "0"], "--rate 0.0: must be a number > 0"),
    ],
)
def test_bad_soak_options_are_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("soak", *args, "--report-dir", str(tmp_path / "r"), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
