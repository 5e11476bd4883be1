"""A `reliable-test-runner run` killed with kill -9 mid-run keeps every test run that ended,
and the pytest session it started ends by itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.runner.records import read_lines
from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# each run leaves its own mark once its body has run, so the records can be checked
# against what really ran
PROJECT = """
import os, time
from pathlib import Path

MARKS = Path(__file__).with_name("marks")

def test_step(request):
    time.sleep(0.02)  # the workload: each run takes a while, so the kill lands mid-run
    fd = os.open(MARKS, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (request.node.nodeid + "\\n").encode())
    os.close(fd)
"""


def _ended(lines: list[dict]) -> list[dict]:
    return [r for r in lines if "event" not in r and "outcome" in r]


def test_a_kill_9_of_the_runner_keeps_every_run_that_ended(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_steps.py").write_text(PROJECT)
    reports = tmp_path / "reports"
    runner = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--rootdir", str(project)]
        + ["--repeat", "2000", "--workers", "2", "--report-dir", str(reports)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll_until("a run directory", lambda: any(reports.glob("*/test-runs.jsonl")), 60)
        (records,) = reports.glob("*/test-runs.jsonl")
        poll_until("200 runs recorded", lambda: len(_ended(read_lines(records))) >= 200, 120)
        session = [p for p in psutil.Process(runner.pid).children(recursive=True)]
        assert session, "the pytest session the runner started"
        seen_before = len(_ended(read_lines(records)))
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait(timeout=30)
    assert runner.returncode == -signal.SIGKILL

    # the session it started ends by itself, soon (it looks for its runner twice a second)
    poll_until(
        "the pytest session ended after its runner's kill -9",
        lambda: not [p for p in session if p.is_running() and p.status() != "zombie"],
        10,
        last=lambda: [p.pid for p in session if p.is_running()],
    )
    ended = _ended(read_lines(records))
    assert len(ended) >= seen_before  # nothing recorded was lost
    assert all(r["outcome"] == "passed" for r in ended)
    marks = set((project / "marks").read_text().split())
    assert {r["run_nodeid"] for r in ended} <= marks  # every recorded run really ran
    assert len(marks) < 2000  # it stopped mid-run: nothing ran on to the end
    # report.json says the run crashed
    (report,) = reports.glob("*/report.json")
    assert json.loads(report.read_text())["status"] == "crashed"
