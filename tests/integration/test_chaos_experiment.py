"""The latency experiment against the reference API, through each kind of Toxiproxy server
(a real process, a real one in Docker, the embedded one)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

from harness.chaos.executor import run_experiment
from harness.chaos.experiment import load_experiment
from harness.target import Target
from harness.toxiproxy.provision import ToxiproxyServer

pytestmark = [pytest.mark.integration, pytest.mark.toxiproxy]

EXPERIMENT = ROOT / "scenarios" / "chaos" / "api-latency.toml"


def test_latency_fault_takes_effect_and_the_api_recovers(
    target: Target, toxiproxy_server: ToxiproxyServer
) -> None:
    experiment = load_experiment(EXPERIMENT)
    result = run_experiment(experiment, target.url, toxiproxy_server, injections=2)
    assert result.error is None
    assert result.steady_state_met
    assert len(result.injections) == 2
    for injection in result.injections:
        analysis = injection.analysis
        assert analysis.effect_observed, analysis.detail
        assert analysis.effect_ms is not None
        assert analysis.effect_ms >= 95.0  # ping through the proxy slowed by the 100 ms toxic
        assert analysis.recovered, analysis.detail
        assert analysis.recover_s is not None
        assert analysis.recover_s < experiment.expect.max_recovery_s
    body = result.to_json()
    assert body["effect_observed"] is True
    assert body["recovered"] is True
    phases = {sample["phase"] for sample in body["timeline"]}  # type: ignore[union-attr]
    assert phases == {"steady", "fault", "recovery"}


def test_a_toxic_that_does_nothing_visible_is_not_a_pass(
    target: Target, toxiproxy_server: ToxiproxyServer, tmp_path: Path
) -> None:
    # 1 ms of latency cannot produce the 95 ms effect the experiment demands
    # (and a looser latency bound, so a busy machine cannot fail the steady state first)
    text = EXPERIMENT.read_text().replace("latency = 100", "latency = 1")
    text = text.replace("max_latency_ms = 50.0", "max_latency_ms = 250.0")
    (tmp_path / "tiny.toml").write_text(text)
    result = run_experiment(load_experiment(tmp_path / "tiny.toml"), target.url, toxiproxy_server)
    assert result.steady_state_met, result.error
    assert result.effect_observed is False
    assert "NO VISIBLE EFFECT" in result.injections[0].analysis.detail


@pytest.mark.slow
def test_chaos_command_falls_back_to_the_embedded_proxy_without_a_server(tmp_path: Path) -> None:
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if not (Path(p) / "toxiproxy-server").exists()
    )
    env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    env["PATH"] = path
    env["TOXIPROXY_IMAGE"] = "moonbase/no-such-toxiproxy:0"  # nor one in Docker
    result = run_cli("chaos", "api-latency", "--report-dir", str(tmp_path), timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert report["components"]["toxiproxy"]["kind"] == "embedded"
    (chaos,) = report["chaos"]
    assert chaos["effect_observed"] is True
    assert chaos["recovered"] is True
