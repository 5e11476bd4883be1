"""`reliable-test-runner run` on an ordinary pytest project: repeats, flakes, hangs, budget."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT = """
import fcntl, os, time
from pathlib import Path

COUNTER = Path(__file__).with_name("flaky-counter")

def _next() -> int:
    with open(COUNTER, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        n = int(fh.read() or 0) + 1
        fh.seek(0); fh.truncate(); fh.write(str(n))
        return n

def test_stable():
    assert sum(range(10)) == 45

def test_flaky():
    # fails on every 5th run across all workers: a true failure rate of exactly 20%
    assert _next() % 5 != 0

def test_hangs():
    time.sleep(1000)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "test_mixed.py").write_text(PROJECT)
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def test_stable_flaky_and_hanging_tests_are_told_apart(project: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cli(
        "run",
        "--rootdir",
        str(project),
        "--repeat",
        "20",
        "--timeout",
        "1",  # 20 hangs of 1 s each on 2 workers: 10 s of the test
        "--budget",
        "200",
        "--seed",
        "1",
        "--report-dir",
        str(tmp_path / "reports"),
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr  # the hanging test fails its SLO
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}

    stable = tests["test_stable"]
    assert (stable["passed"], stable["n"], stable["flaky"]) == (20, 20, False)
    assert stable["pass_rate"]["high"] == 1.0
    assert stable["pass_rate"]["low"] == pytest.approx(0.8316, abs=1e-4)  # 0.025 ** (1 / 20)

    flaky = tests["test_flaky"]
    assert flaky["flaky"] is True
    assert (flaky["passed"], flaky["n"]) == (16, 20)
    assert flaky["pass_rate"]["low"] <= 0.8 <= flaky["pass_rate"]["high"]

    hangs = tests["test_hangs"]
    assert (hangs["timeouts"], hangs["n"], hangs["passed"]) == (20, 20, 0)
    assert report["test_run"]["seed"] == 1
    assert elapsed < 200
    _each_run_starts_on_its_workers_clock(tmp_path / "reports" / "latest" / "test-runs.jsonl")


def _each_run_starts_on_its_workers_clock(records: Path) -> None:
    """Every run's line has the time its worker began it (Allure's start); one worker's runs
    follow each other, so none starts before the one before it on that worker ended."""
    runs = [json.loads(line) for line in records.read_text().splitlines()]
    runs = [r for r in runs if "outcome" in r and "event" not in r]
    assert len(runs) == 60
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        assert run["start"] <= run["t"] + 0.001  # begun before the controller wrote it down
        by_worker.setdefault(run["worker"], []).append((run["start"], run["duration_s"]))
    assert len(by_worker) == 2
    for spans in by_worker.values():
        spans.sort()
        for (start, duration), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert next_start >= start + duration - 0.001


def test_the_budget_ends_the_whole_run_and_still_writes_the_report(tmp_path: Path) -> None:
    root = tmp_path / "slow"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    # 50 x (2 s + instant) on 2 workers is ~50 s of work: the 8 s budget must cut it short
    (root / "test_slow.py").write_text(
        "import time\n\ndef test_slow():\n    time.sleep(2)\n\ndef test_fast():\n    pass\n"
    )
    started = time.monotonic()
    result = run_cli(
        "run",
        "--rootdir",
        str(root),
        "--repeat",
        "50",
        "--timeout",
        "30",
        "--budget",
        "8",
        "--report-dir",
        str(tmp_path / "reports"),
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 8 + 20, "the watchdog did not end the run near its budget"
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert report["test_run"]["budget_exhausted"] is True
    assert report["status"] == "completed"
    assert result.returncode in (1, 3)
    recorded = sum(t["n"] for t in report["tests"])
    assert 1 <= recorded < 100  # the runs made before the budget count; the rest never ran


def test_a_selector_that_matches_nothing_is_a_usage_error(project: Path, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--rootdir",
        str(project),
        "-k",
        "no_such_test",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=120,
    )
    assert result.returncode == 2
    assert "no tests matched" in result.stderr


STUCK = """
import signal, time

def test_stuck_where_no_signal_reaches():
    # SIGALRM blocked: pytest-timeout's signal method cannot end this test
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(1000)
"""


def test_a_test_stuck_beyond_signals_is_ended_as_a_timeout(tmp_path: Path) -> None:
    root = tmp_path / "stuck"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_stuck.py").write_text(STUCK)
    result = run_cli(
        "run",
        "--rootdir",
        str(root),
        "--repeat",
        "2",
        "--timeout",
        "1",
        "--budget",
        "90",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=150,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "latest" / "report.json").read_text())
    (test,) = report["tests"]
    assert (test["timeouts"], test["n"]) == (2, 2)
    assert report["test_run"]["budget_exhausted"] is False


def test_until_confident_repeats_until_each_test_decides(project: Path, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--rootdir",
        str(project),
        "-k",
        "stable or flaky",
        "--until-confident",
        "--slo",
        "0.9",
        "--repeat",
        "5",
        "--budget",
        "150",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=240,
    )
    report = json.loads((tmp_path / "r" / "latest" / "report.json").read_text())
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    stable, flaky = tests["test_stable"], tests["test_flaky"]
    # 29 clean runs clear 0.9 at one-sided 95%: 0.05 ** (1 / 29) = 0.9019
    assert stable["decision"] == "pass"
    assert stable["n"] >= 29
    assert flaky["decision"] == "fail"  # its true pass rate is 0.8 < 0.9
    assert report["test_run"]["batches"] > 1
    assert result.returncode == 1, result.stdout + result.stderr


FIXTURES = """
import os, socket, tempfile
from pathlib import Path

import httpx

def test_isolated_env_gives_own_cwd_and_tmpdir(isolated_env):
    assert Path.cwd() == isolated_env
    assert tempfile.gettempdir() == str(isolated_env)
    os.environ["LEAK_FROM_TEST"] = "1"

def test_environment_is_restored_after_isolated_env(isolated_env):
    assert "LEAK_FROM_TEST" not in os.environ

def test_free_tcp_port_can_be_bound(free_tcp_port):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_tcp_port))

def test_own_target_is_not_the_shared_one(moonbase_target, target_url):
    assert moonbase_target.url != target_url
    assert httpx.get(moonbase_target.url + "/api/v0/ping").json() == {"status": "ok"}
    assert httpx.get(target_url + "/api/v0/ping").json() == {"status": "ok"}
"""


def test_the_plugin_fixtures_isolate_each_test(tmp_path: Path) -> None:
    root = tmp_path / "fixtures"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_fixtures.py").write_text(FIXTURES)
    result = run_cli(
        "run",
        "--rootdir",
        str(root),
        "--workers",
        "0",
        "--seed",
        "3",
        "--slo",
        "0.5",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=150,
    )
    report = json.loads((tmp_path / "r" / "latest" / "report.json").read_text())
    outcomes = {
        t["nodeid"].split("::")[-1]: (t["passed"], t["n"], t["messages"]) for t in report["tests"]
    }
    assert all(p == n == 2 for p, n, _ in outcomes.values()), outcomes  # smoke repeats twice
    assert len(outcomes) == 4
    assert result.returncode in (0, 3)


RETRIED = """
from pathlib import Path

MARK = Path(__file__).with_name("attempts")

def test_passes_on_retry():
    attempt = int(MARK.read_text()) if MARK.exists() else 0
    MARK.write_text(str(attempt + 1))
    assert attempt >= 1  # the first attempt fails, its rerun passes
"""


def test_a_rerun_that_passes_is_a_flake_not_a_pass(tmp_path: Path) -> None:
    root = tmp_path / "retried"
    root.mkdir()
    # the user's own project enables reruns (pytest-rerunfailures)
    (root / "pytest.ini").write_text("[pytest]\naddopts = --reruns 2\n")
    (root / "test_retried.py").write_text(RETRIED)
    run_cli(
        "run",
        "--rootdir",
        str(root),
        "--repeat",
        "1",
        "--workers",
        "0",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=120,
    )
    report = json.loads((tmp_path / "r" / "latest" / "report.json").read_text())
    (test,) = report["tests"]
    assert test["outcomes"] == ["failed", "passed"]
    assert (test["passed"], test["n"], test["flaky"]) == (1, 2, True)


HANGS_PAST_THE_BUDGET = """
import time

def test_sleeps_past_the_budget():
    time.sleep(100)

def test_fast():
    pass
"""


def test_a_test_running_when_the_budget_ends_the_run_is_listed_as_cut_off(
    tmp_path: Path,
) -> None:
    root = tmp_path / "hang"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_hang.py").write_text(HANGS_PAST_THE_BUDGET)
    result = run_cli(
        "run",
        "--rootdir",
        str(root),
        "--repeat",
        "1",
        "--workers",
        "2",
        "--timeout",
        "200",
        "--budget",
        "5",
        "--report-dir",
        str(tmp_path / "r"),
        timeout=120,
    )
    assert result.returncode == 3, result.stdout + result.stderr  # no test decided anything
    report = json.loads((tmp_path / "r" / "latest" / "report.json").read_text())
    assert report["test_run"]["budget_exhausted"] is True
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    hang = tests["test_sleeps_past_the_budget"]
    # seen, but no trial: it neither passed nor failed, and n leaves it out
    assert (hang["cut_off"], hang["n"], hang["passed"], hang["failed"]) == (1, 0, 0, 0)
    assert (hang["timeouts"], hang["errors"], hang["pass_rate"]) == (0, 0, None)
    (running_s,) = hang["cut_off_running_s"]
    assert 2.0 < running_s < 10.0
    assert (tests["test_fast"]["n"], tests["test_fast"]["cut_off"]) == (1, 0)
    assert report["test_run"]["runs"] == 1  # the finished run only
    records = (tmp_path / "r" / "latest" / "test-runs.jsonl").read_text().splitlines()
    cut = [json.loads(line) for line in records if '"cut_off"' in line]
    assert [(c["nodeid"].split("::")[-1], c["reason"]) for c in cut] == [
        ("test_sleeps_past_the_budget", "budget")
    ]


def test_a_project_whose_markers_cannot_be_listed_is_a_usage_error_not_a_keyword(
    tmp_path: Path,
) -> None:
    # before: a failed `pytest --markers` quietly turned the marker into a -k keyword
    root = tmp_path / "broken"
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n    smoke: quick ones\n")
    (root / "conftest.py").write_text("raise RuntimeError('conftest is broken')\n")
    (root / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.smoke\ndef test_a():\n    pass\n"
    )
    result = run_cli(
        "run", "smoke", "--rootdir", str(root), "--report-dir", str(tmp_path / "r"), timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert f"pytest cannot read the project at {root} to list its markers" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "latest").exists()
