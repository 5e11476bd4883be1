"""The CLI as a demanding user meets it: bad input is a usage error (exit 2) with a clear
message and leaves no run behind; SIGTERM (how CI cancels a job) keeps the report and
stops every child; options typed on the command line win over files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from cli_helpers import ROOT, run_cli

from target_api.testing import poll_until

pytestmark = pytest.mark.integration


def _no_run_written(report_dir: Path) -> None:
    assert not report_dir.exists() or sorted(p.name for p in report_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "--duration", "0"], "--duration 0.0: must be greater than 0"),
        (["load", "--users", "0"], "--users 0: must be greater than or equal to 1"),
        (["run", "API", "--timeout", "-1"], "--timeout -1.0: must be greater than 0"),
        (["run", "API", "--slo", "1.5"], "--slo 1.5: must be less than 1"),
        (["run", "API", "--workers", "abc"], "--workers 'abc'"),
        (["run", "-m", "api and ("], "invalid -m expression 'api and ('"),
        (["run", "-k", "("], "invalid -k expression '('"),
        (["run", "nosuchthing_xyz"], "no tests matched"),
        (["doctr"], "did you mean the command `reliable-test-runner doctor`?"),
        (["chaoss", "api"], "did you mean the command `reliable-test-runner chaos`?"),
        (["chaos", "no-such-experiment"], "unknown experiment(s) no-such-experiment"),
        (["load", "--load-file", "/nonexistent/load.toml"], "--load-file"),
        (["load", "--profile-file", "/nonexistent/load.toml"], "--load-file"),  # former name
        (["run", "API", "--target-url", "http://192.0.2.1:8000"], "outside 127.0.0.0/8"),
        (["target", "--host", "0.0.0.0", "--port", "0"], "--allow-non-loopback"),
        (["report", "--min-effect-ms", "-1"], "--min-effect-ms -1.0: must be a number >= 0"),
    ],
)
def test_bad_input_is_exit_2_with_a_message_and_leaves_no_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    report_dir = tmp_path / "reports"
    extra = [] if args[0] == "target" else ["--report-dir", str(report_dir)]
    result = run_cli(*args, *extra, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "starting the reference Moonbase API" not in result.stderr
    if args[0] != "report":
        _no_run_written(report_dir)


def test_report_refuses_a_file_that_is_not_a_moonbase_report(tmp_path: Path) -> None:
    run = tmp_path / "reports" / "other"
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps({"schema": "other/9", "tests": 5}))
    result = run_cli("report", "other", "--report-dir", str(tmp_path / "reports"), timeout=60)
    assert result.returncode == 2
    assert "is not a moonbase-reliability/1 report (schema 'other/9')" in result.stderr


def test_a_bare_command_shows_help_instead_of_running_everything() -> None:
    result = run_cli(timeout=60)
    assert result.returncode == 0
    assert "usage: reliable-test-runner" in result.stdout
    assert "exit codes:" in result.stdout


@pytest.mark.parametrize("command", ["load", "chaos", "report", "target", "doctor"])
def test_every_command_documents_the_exit_codes(command: str) -> None:
    result = run_cli(command, "--help", timeout=60)
    assert result.returncode == 0
    assert "130  interrupted" in result.stdout


def test_an_ordinary_pytest_project_runs_with_the_default_relative_report_dir(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_tiny.py").write_text(
        "def test_good():\n    assert True\n\ndef test_bad():\n    assert False\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("run", "--rootdir", str(project), "--repeat", "3", "--budget", "120", cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((work / "reports" / "latest" / "report.json").read_text())
    counts = {t["nodeid"]: (t["passed"], t["n"]) for t in report["tests"]}
    assert counts == {"test_tiny.py::test_good": (3, 3), "test_tiny.py::test_bad": (0, 3)}
    # the same project, run from inside it without --rootdir
    inside = run_cli("run", "--repeat", "2", "--budget", "120", cwd=project)
    assert inside.returncode == 1, inside.stdout + inside.stderr
    report = json.loads((project / "reports" / "latest" / "report.json").read_text())
    assert {t["nodeid"] for t in report["tests"]} == set(counts)


def test_options_on_the_command_line_win_over_a_load_file(tmp_path: Path) -> None:
    result = run_cli(
        "load",
        "--load-file",
        str(ROOT / "scenarios" / "load" / "ping.toml"),
        "--duration",
        "3",
        "--rate",
        "200",
        "--report-dir",
        str(tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "200 req/s intended, 10 users, at most 100 in flight, 3 s" in result.stderr  # file: 10 s
    load = json.loads((tmp_path / "latest" / "report.json").read_text())["load"]
    assert load["requests"] <= 200 * 3 + 1


def test_a_chaos_experiment_can_be_named_by_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "my-experiment.toml"
    text = (ROOT / "scenarios" / "chaos" / "api-latency.toml").read_text()
    bad.write_text(text.replace('type = "latency"', 'type = "latencyy"', 1))
    result = run_cli("chaos", str(bad), "--report-dir", str(tmp_path / "r"), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown toxic type 'latencyy'" in result.stderr
    assert str(bad) in result.stderr


def _children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_sigterm_during_a_gate_keeps_the_report_and_stops_the_reference_api(
    tmp_path: Path,
) -> None:
    report_dir = tmp_path / "reports"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "gate", "--profile", "smoke"]
        + ["--report-dir", str(report_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # Tests are running once a record exists: the API is up, workers are busy.
        poll_until(
            "the first test run recorded",
            lambda: (
                any(report_dir.glob("*/test-runs.jsonl"))
                and any(p.stat().st_size for p in report_dir.glob("*/test-runs.jsonl"))
            ),
            120,
        )
        api = [p for p in _children_of(process.pid) if "target_api" in " ".join(p.cmdline())]
        assert len(api) == 1
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "terminated (SIGTERM)" in stderr
    report = json.loads((report_dir / "latest" / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("interrupted", 130)
    assert "SIGTERM" in report["error"]
    assert report["finished_at"] is not None
    assert "report so far:" in stdout
    poll_until("the reference API stopped", lambda: not api[0].is_running(), 15)


def test_sigterm_stops_the_api_that_target_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "target", "--port", "0"]
        + ["--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("moonbase-api listening on http://127.0.0.1:"), line
        (api,) = _children_of(process.pid)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    poll_until("the API stopped", lambda: not api.is_running(), 15)


def test_the_reference_apis_scratch_directory_is_removed_after_the_run(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_cli(
        "load", "--duration", "1", "--rate", "20", "--report-dir", str(tmp_path / "reports"),
        env={**os.environ, "TMPDIR": str(scratch)}, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr
    assert "reference API up at" in result.stderr  # it did start one, in that TMPDIR
    assert list(scratch.glob("moonbase-target-*")) == []
