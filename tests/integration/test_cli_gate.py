"""The gate command as a user runs it: a subprocess, its exit code, its report files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _report(report_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((report_dir / "latest" / "report.json").read_text())


def test_smoke_gate_passes_with_a_complete_report(smoke_gate: Any) -> None:
    result, tmp_path = smoke_gate.result, smoke_gate.report_dir
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: pass (exit 0)" in result.stdout
    report = _report(tmp_path)
    assert report["schema"] == "moonbase-reliability/1"
    assert (report["status"], report["verdict"], report["exit_code"]) == ("completed", "pass", 0)
    assert report["started_at"]
    assert report["finished_at"]
    assert report["tests"], "the smoke gate ran no scenario"
    for test in report["tests"]:
        assert test["n"] >= 1
        assert test["pass_rate"]["method"] == "clopper-pearson"
        rate = test["pass_rate"]
        assert rate["low"] <= rate["estimate"] <= rate["high"]
        assert {"trials_needed", "flaky"} <= set(test)
    load = report["load"]
    assert load["requests"] > 1000
    assert set(load["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    # the generator's floor, measured before the load at its rate (2 s at 500 req/s)
    assert load["floor"]["requests"] == 1000
    assert set(load["floor"]["at_floor"]) == {"p50", "p95", "p99"}
    (chaos,) = report["chaos"]
    assert chaos["fault"] == {"type": "latency", "attributes": {"latency": 100, "jitter": 0}}
    assert chaos["effect_observed"] is True
    assert chaos["recovered"] is True
    assert chaos["recovery_s"] is not None
    names = {g["name"]: g for g in report["gates"]}
    assert {"test_success", "load_error_rate", "load_p95_ms"} <= set(names)
    for gate in report["gates"]:
        if gate["name"] == "regression":  # a first run has no baseline: it decides nothing
            assert gate["outcome"] == "off"
            assert "no baseline" in gate["detail"]
        else:
            assert gate["outcome"] == "pass", gate
        assert {"observed", "threshold", "comparison"} <= set(gate)
    run_dir = tmp_path / "latest"
    junit = ET.parse(run_dir / "junit.xml").getroot()
    assert junit.tag == "testsuites"
    assert "# Moonbase reliability: PASS" in (run_dir / "summary.md").read_text()
    assert "<svg" in (run_dir / "index.html").read_text()
    assert list((run_dir / "allure-results").glob("*-result.json"))
    history = (tmp_path / "history.jsonl").read_text().splitlines()
    assert json.loads(history[-1])["run_id"] == report["run_id"]


def test_an_impossible_p95_threshold_fails_the_gate_with_exit_1(tmp_path: Path) -> None:
    result = run_cli(
        "gate",
        "--profile",
        "smoke",
        "--report-dir",
        str(tmp_path),
        "--set",
        "gates.load_p95_ms=0.001",
        "--set",
        "load.duration_s=3",
        # at the generator's floor a fail would be insufficient (tests/integration/test_floor.py)
        "--set",
        "load.floor_enabled=false",
        "--set",
        "chaos.enabled=false",
        "--set",
        "tests.repeat=1",
        # the phases this gate does not read stay off (they take 20 s of the smoke gate)
        *("--set", "coverage.enabled=false", "--set", "api_coverage.enabled=false"),
        *("--set", "fuzz.enabled=false", "--set", "security.enabled=false"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = _report(tmp_path)
    assert report["verdict"] == "fail"
    gate = next(g for g in report["gates"] if g["name"] == "load_p95_ms")
    assert gate["outcome"] == "fail"
    assert gate["threshold"] == pytest.approx(0.001)
    assert gate["comparison"] == "<="
    assert gate["observed"] > 0.001


def test_a_bad_config_file_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "reliability.toml"
    bad.write_text('[profiles.smoke.gates]\nload_p95_ms = "fast"\n')
    result = run_cli("gate", "--config", str(bad), "--report-dir", str(tmp_path / "r"), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(bad) in result.stderr
    assert "gates.load_p95_ms" in result.stderr
    assert "'fast'" in result.stderr


def test_an_unknown_option_is_a_usage_error() -> None:
    result = run_cli("gate", "--no-such-option", timeout=60)
    assert result.returncode == 2


def test_a_non_loopback_target_is_refused_without_the_allow_flag(tmp_path: Path) -> None:
    result = run_cli(
        "load", "--target-url", "http://192.0.2.1:80", "--report-dir", str(tmp_path), timeout=60
    )
    assert result.returncode == 2
    assert "outside 127.0.0.0/8" in result.stderr
