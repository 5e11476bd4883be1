"""A non-loopback MOONBASE_TARGET_URL is refused end to end (CLI, runner, plugin) unless
the allow flag reaches the plugin. Nothing is ever sent to the refused address: the
scenarios below only read the URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from harness.runner import RunSpec, run_tests

pytestmark = [pytest.mark.integration]

ELSEWHERE = "http://192.0.2.1:9"  # TEST-NET-1 (RFC 5737): never routed

SCENARIO = f"""
def test_reads_the_target(target_url, api_token):
    assert target_url == {ELSEWHERE!r}  # read only, never contacted
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_target.py").write_text(SCENARIO)
    return root


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MOONBASE_TARGET_URL": ELSEWHERE},
    )


def test_the_plugin_refuses_the_target_in_a_plain_pytest_session(project: Path) -> None:
    result = _pytest(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert (
        f"refusing target {ELSEWHERE!r} from the environment variable MOONBASE_TARGET_URL"
        in result.stdout
    )
    assert "--moonbase-allow-non-loopback" in result.stdout


def test_the_plugin_hands_the_target_on_with_the_allow_flag(project: Path) -> None:
    result = _pytest(project, "--moonbase-allow-non-loopback")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_cli_refuses_the_target_from_the_environment(project: Path, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--rootdir",
        str(project),
        "--report-dir",
        str(tmp_path / "r"),
        env={**os.environ, "MOONBASE_TARGET_URL": ELSEWHERE},
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert ELSEWHERE in result.stderr
    assert "MOONBASE_TARGET_URL" in result.stderr
    assert "--allow-non-loopback" in result.stderr
    assert list(tmp_path.rglob("test-runs.jsonl")) == []  # no test session was started


def test_the_runner_hands_the_allow_flag_to_the_plugin(project: Path, tmp_path: Path) -> None:
    spec = RunSpec(
        rootdir=project,
        workers="2",
        timeout_s=30.0,
        budget_s=90.0,
        env={"MOONBASE_TARGET_URL": ELSEWHERE},
        allow_non_loopback=True,
    )
    result = run_tests(spec, tmp_path / "runs.jsonl")
    (test,) = result.tests
    assert (test.passed, test.n) == (1, 1), test.messages
