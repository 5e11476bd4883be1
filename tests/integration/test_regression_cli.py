"""Regression against a baseline through the CLI: the reference API compared with itself is
not flagged; the same API behind a 50 ms latency toxic is, with its effect; a baseline that
does not exist is refused before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from cli_helpers import run_cli
from toxiproxy_servers import free_port, running_toxiproxy

from target_api.testing import ApiProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# the reference API, started here, is a service of its own to the harness: its path is named
# 300 requests: enough for the error-rate gate at 1% (299 with no failure, one-sided 95%).
# A latency change counts from 30 ms: a machine busy beside the test (another xdist worker)
# moved a 3 s load's p95 by 20 ms; the 50 ms toxic below is well past it.
LOAD = (
    "--duration", "3", "--rate", "100", "--users", "20", "--set", "load.floor_duration_s=1",
    "--set", "load.path=/api/v0/ping", "--set", "regression.latency_min_effect_ms=30",
)  # fmt: skip


def _latest(reports: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((reports / "latest" / "report.json").read_text())


def _gate(report: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(g for g in report["gates"] if g["name"] == name)


def test_a_run_compared_with_itself_is_not_flagged_and_a_slowed_one_is(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    api = ApiProcess(tmp_path / "api").start()
    try:
        first = run_cli("load", "--target-url", api.url, *LOAD, "--report-dir", str(reports))
        assert first.returncode == 0, first.stdout + first.stderr
        baseline = _latest(reports)
        assert _gate(baseline, "regression")["outcome"] == "off"  # nothing to compare yet
        assert (reports / "latest" / "load.hdr").is_file()  # the whole histogram, kept
        # the same API again: auto finds the first run (same command, profile and target)
        again = run_cli("load", "--target-url", api.url, *LOAD, "--report-dir", str(reports))
        same = _latest(reports)
        assert same["regression"]["baseline"] == baseline["run_id"]
        gate = _gate(same, "regression")
        # its p95 is near the generator's own: a shift there (a busy machine's) is the
        # generator's as much as the target's, and is not counted (insufficient, exit 3)
        if gate["outcome"] == "insufficient":
            assert "not counted, at the generator's floor" in gate["detail"], gate
            assert again.returncode == 3, again.stdout + again.stderr
        else:
            assert (gate["outcome"], again.returncode) == ("pass", 0), again.stdout + again.stderr
            assert same["regression"]["flagged"] == 0
        # the same API behind 50 ms of latency, compared with the first run by name
        with running_toxiproxy("embedded") as server:
            port = free_port()
            upstream = api.url.removeprefix("http://")
            created = requests.post(
                f"{server.url}/proxies",
                json={"name": "api", "listen": f"127.0.0.1:{port}", "upstream": upstream},
                timeout=5,
            )
            assert created.status_code == 201, created.text
            toxic = requests.post(
                f"{server.url}/proxies/api/toxics",
                json={"type": "latency", "attributes": {"latency": 50}},
                timeout=5,
            )
            assert toxic.status_code == 200, toxic.text
            slowed = run_cli(
                "load", "--target-url", f"http://127.0.0.1:{port}", *LOAD,
                "--set", "gates.load_p95_ms=500", "--baseline", baseline["run_id"],
                "--report-dir", str(reports),
            )  # fmt: skip
    finally:
        api.stop()
    assert slowed.returncode == 1, slowed.stdout + slowed.stderr
    report = _latest(reports)
    assert _gate(report, "regression")["outcome"] == "fail"
    checks = {c["metric"]: c for c in report["regression"]["checks"]}
    median = checks["latency p50 (ms)"]
    assert median["flagged"] is True
    assert median["effect"] == pytest.approx(50.0, rel=0.2)
    assert "latency p50 (ms)" in _gate(report, "regression")["detail"]
    summary = (reports / "latest" / "summary.md").read_text()
    assert "## Regression against the baseline" in summary
    assert "| **flagged** |" in summary
    assert 'id="regression-rows"' in (reports / "latest" / "index.html").read_text()


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ("20990101T000000Z-none", "no such run"),
        ("WRONG_SCHEMA", "has schema 'other/1'"),
    ],
)
def test_a_bad_baseline_is_exit_2_before_anything_starts(
    tmp_path: Path, baseline: str, message: str
) -> None:
    reports = tmp_path / "reports"
    if baseline == "WRONG_SCHEMA":
        run = reports / "old"
        run.mkdir(parents=True)
        (run / "report.json").write_text(json.dumps({"schema": "other/1"}))
        baseline = str(run)
    result = run_cli("load", *LOAD, "--baseline", baseline, "--report-dir", str(reports))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert f"--baseline {baseline!r}" in result.stderr
    assert not (reports / "latest").exists()
