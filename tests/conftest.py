"""Fixtures shared across the test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class SmokeGate:
    """One real ``reliable-test-runner gate --profile smoke`` as a user runs it."""

    result: subprocess.CompletedProcess[str]
    report_dir: Path  # its --report-dir: latest/ and history.jsonl are in it


@pytest.fixture(scope="session")
def smoke_gate(tmp_path_factory: pytest.TempPathFactory) -> SmokeGate:
    """The smoke gate on embedded defaults, run once per session for every test that reads
    it (the gate's own acceptance test and the browser tier): it takes about a minute, and
    neither test changes what it wrote. Under pytest-xdist (MOONBASE_TEST_WORKERS) a session
    is a worker's: two workers that each run one of those files each run the gate, side by
    side, each in its own directory."""
    reports = tmp_path_factory.mktemp("smoke-gate") / "reports"
    done = subprocess.run(  # noqa: S603 - this interpreter, the harness's own command
        [sys.executable, "-m", "harness", "gate", "--profile", "smoke",
         "--report-dir", str(reports)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    return SmokeGate(done, reports)
