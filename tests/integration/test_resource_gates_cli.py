"""The target's memory and CPU through the CLI: the reference API sampled by PID, a running
service by --target-pid or by its Prometheus process metrics, gates in every report, and
bad options refused before anything starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from target_api.testing import ApiProcess

pytestmark = [pytest.mark.integration]


def _latest(reports: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((reports / "latest" / "report.json").read_text())


def test_a_1_mb_memory_limit_fails_the_load_with_exit_1_in_every_report(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "load", "--duration", "3", "--rate", "100", "--set", "gates.target_rss_mb_max=1",
        "--report-dir", str(reports), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    report = _latest(reports)
    gates = {g["name"]: g for g in report["gates"]}
    rss = gates["target_rss_mb_max"]
    assert rss["outcome"] == "fail"
    assert rss["observed"] > 10  # the reference API's real RSS, in MB
    assert "psutil: pid" in rss["detail"]
    assert gates["target_cpu_pct_max"]["outcome"] == "pass"
    resources = report["resources"]
    assert resources["under_load"] == "load"
    assert resources["run"]["samples"] >= 4
    run_dir = reports / "latest"
    assert "The target's memory and CPU" in (run_dir / "summary.md").read_text()
    html = (run_dir / "index.html").read_text()
    assert 'id="resources"' in html
    assert "Target memory (RSS of its process tree)" in html
    assert 'name="target_rss_mb_max"' in (run_dir / "junit.xml").read_text()


def test_a_running_service_is_sampled_from_its_prometheus_process_metrics(tmp_path: Path) -> None:
    api = ApiProcess(tmp_path / "api").start()
    try:
        reports = tmp_path / "reports"
        result = run_cli(
            "load", "--target-url", api.url, "--set", "load.path=/api/v0/ping",
            "--duration", "4", "--rate", "100",
            "--report-dir", str(reports), timeout=120,
        )  # fmt: skip
    finally:
        api.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    resources = _latest(reports)["resources"]
    assert resources["source"] == f"prometheus process metrics: {api.url}/metrics"
    assert resources["run"]["rss_peak_mb"] > 10


def test_a_running_service_is_sampled_by_its_pid(tmp_path: Path) -> None:
    api = ApiProcess(tmp_path / "api").start()
    try:
        assert api.process is not None
        reports = tmp_path / "reports"
        result = run_cli(
            "load", "--target-url", api.url, "--target-pid", str(api.process.pid),
            "--set", "load.path=/api/v0/ping",
            "--duration", "4", "--rate", "100", "--report-dir", str(reports), timeout=120,
        )  # fmt: skip
    finally:
        api.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    resources = _latest(reports)["resources"]
    assert resources["source"] == f"psutil: pid {api.process.pid} and its children"
    # the console gives the run's mean CPU on both bases, as the reports do
    run, cores = resources["run"], resources["cpu_count"]
    said = " ".join((result.stdout + result.stderr).split())
    load = next(p for p in resources["phases"] if p["name"] == "load")
    found = re.search(
        r"mean CPU over the load phase \(([\d.]+) s\) ([\d.]+)% of the machine \(([\d.]+)% "
        r"of one core\), over the run ([\d.]+)% of the machine \(([\d.]+)% of one core\); "
        r"(\d+) cores",
        said,
    )
    assert found, said
    assert float(found[1]) == pytest.approx(load["seconds"], abs=0.051)
    # the load phase's figure on the machine's basis is the one the CPU gate judges
    gate = next(g for g in _latest(reports)["gates"] if g["name"] == "target_cpu_pct_max")
    assert float(found[2]) == pytest.approx(gate["observed"], abs=0.051)
    assert float(found[3]) == pytest.approx(load["cpu_mean_core_pct"], abs=0.051)
    assert float(found[4]) == pytest.approx(run["cpu_mean_core_pct"] / cores, abs=0.051)
    assert float(found[5]) == pytest.approx(run["cpu_mean_core_pct"], abs=0.051)
    assert int(found[6]) == cores


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-pid", "12345"], "--target-pid 12345: only with --target-url"),
        (
            ["--target-url", "http://127.0.0.1:9", "--target-pid", "ENDED"],
            "no such process is running",
        ),
        (["--set", "resources.cpu_basis=cores"], "resources.cpu_basis"),
        (["--set", "resources.interval_s=0"], "resources.interval_s"),
    ],
)
def test_bad_resource_options_are_exit_2_before_anything_starts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(_ended_pid()) if a == "ENDED" else a for a in args]
    result = run_cli("load", *args, "--report-dir", str(tmp_path / "r"), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (tmp_path / "r" / "latest").exists()
