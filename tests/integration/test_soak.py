"""`soak`: a long, bounded run of low-rate load and the prober, with faults on a schedule,
that ends by itself and keeps its evidence when stopped early."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from cli_helpers import ROOT, run_cli

from harness.floor import AT_FLOOR
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
    # the generator's floor, at the soak's rate (load.floor_duration_s, 2 s), before its load
    floor = report["load"]["floor"]
    assert (floor["requests"], floor["intended_rate_rps"], floor["processes"]) == (40, 20, 1)
    spans = {s["name"]: s for s in report["timeline"]["spans"] if s["lane"] == "phase"}
    assert spans["floor"]["end_s"] <= spans["soak"]["start_s"]


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


def test_a_soak_killed_by_sigkill_keeps_its_last_checkpoint_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    # a harness killed by SIGKILL cannot remove its scratch directories: they go here
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "soak", "--duration", "120s", "--rate", "20",
         "--checkpoint-every", "5s", "--report-dir", str(reports)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch)},
    )  # fmt: skip
    harness = psutil.Process(process.pid)
    children: list[psutil.Process] = []
    try:

        def checkpointed() -> bool:
            paths = list(reports.glob("*/report.json"))  # `latest` moves when a run ends
            try:
                report = json.loads(paths[0].read_text()) if paths else {}
            except (OSError, ValueError):
                return False
            return bool(report.get("load")) and bool(report.get("availability"))

        poll_until("a checkpoint with the load and the prober", checkpointed, 90)
        children = harness.children(recursive=True)  # the API, the load, the prober
        assert len(children) >= 3, children
        process.kill()  # SIGKILL: nothing of the harness runs after this
        process.wait(timeout=10)
        # every process it started notices that it is gone and ends by itself
        poll_until(
            "the harness's children ended by themselves",
            lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                            for c in children),
            30,
        )  # fmt: skip
    finally:
        for child in [harness, *children]:  # only what this test started, by PID
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.is_running():
                    child.kill()
    assert not (reports / "latest").exists()  # the run never ended
    (path,) = reports.glob("*/report.json")
    report = json.loads(path.read_text())
    assert report["status"] == "crashed"  # as a killed run's last checkpoint reads
    assert report["load"]["requests"] >= 5 * 20 * 0.5  # at least one snapshot's worth
    assert report["load"]["interrupted"] is True  # a partial load, and it says so
    assert report["availability"]["probes"] >= 5 * 10 * 0.5
    phases = {s["name"]: s for s in report["timeline"]["spans"] if s["lane"] == "phase"}
    assert set(phases) == {"floor", "soak"}  # the generator's floor, measured before the soak
    assert phases["floor"]["running"] is False
    assert phases["soak"]["running"] is True


def test_a_soak_flags_the_percentiles_at_the_generators_floor_in_every_report(
    tmp_path: Path, null_target: str
) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "soak", "--duration", "10s", "--rate", "50", "--target-url", null_target,
        "--set", "load.floor_duration_s=1", "--set", "gates.load_p95_ms=0.001",
        "--set", "availability.enabled=false", "--report-dir", str(reports), timeout=120,
    )  # fmt: skip
    report = _report(reports)
    floor = report["load"]["floor"]
    assert (floor["requests"], floor["intended_rate_rps"]) == (50, 50)  # the soak's rate
    flags = floor["at_floor"]
    # the same client against the same kind of server: the medians are the same quantity
    assert flags["p50"] is True, floor
    said = result.stdout + result.stderr
    assert f"p50 {report['load']['latency_ms']['p50']:.3f} ms is within 2x" in said
    assert AT_FLOOR in (reports / "latest" / "summary.md").read_text()
    html = (reports / "latest" / "index.html").read_text()
    assert 'id="floor-table"' in html
    assert AT_FLOOR.replace("'", "&#39;") in html  # as Jinja escapes it
    gate = next(g for g in report["gates"] if g["name"] == "load_p95_ms")
    # 1 microsecond cannot be shown by any client: at the floor that is no fail of the target
    assert gate["outcome"] == ("insufficient" if flags["p95"] else "fail"), gate
    assert result.returncode == (3 if flags["p95"] else 1), said


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
