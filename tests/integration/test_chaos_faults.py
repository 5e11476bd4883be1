"""A reset_peer storm on the API link and latency on the database link, through real servers.

The reset_peer storm runs against each kind of Toxiproxy server (a real process, a real
one in a Docker container, the embedded one); the database
link puts the proxy between a dedicated reference API and a real PostgreSQL
(MOONBASE_TEST_POSTGRES_URL, started by .ci/setup-postgres.sh), under Locust load.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import ROOT
from toxiproxy_servers import running_toxiproxy

from harness.chaos.executor import run_experiment
from harness.chaos.experiment import load_experiment
from harness.target import Target
from harness.toxiproxy.provision import ToxiproxyServer
from target_api.testing import postgres_schema

pytestmark = [pytest.mark.integration, pytest.mark.toxiproxy, pytest.mark.chaos]

CHAOS = ROOT / "scenarios" / "chaos"


def test_a_reset_peer_storm_errors_every_probe_and_the_api_recovers(
    target: Target, toxiproxy_server: ToxiproxyServer
) -> None:
    experiment = load_experiment(CHAOS / "api-reset-peer.toml")
    result = run_experiment(experiment, target.url, toxiproxy_server, injections=2)
    assert result.error is None, result.error
    assert len(result.injections) == 2
    for injection in result.injections:
        analysis = injection.analysis
        assert analysis.effect_observed, analysis.detail
        assert analysis.fault_error_rate == 1.0  # every connection reset while it is on
        assert analysis.recovered, analysis.detail
        assert analysis.recover_s is not None
        assert analysis.recover_s < experiment.expect.max_recovery_s
    steady = [s for s in result.timeline if s.phase == "steady"]
    assert all(s.ok for s in steady)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    with postgres_schema() as url:
        yield url


@pytest.mark.postgres
def test_database_latency_slows_readiness_under_load_and_recovers(
    postgres_url: str, tmp_path: Path
) -> None:
    experiment = load_experiment(CHAOS / "db-latency-under-load.toml")
    with running_toxiproxy("real") as server:
        result = run_experiment(
            experiment, "http://127.0.0.1:1", server, database_url=postgres_url, workdir=tmp_path
        )
    assert result.link == "database"
    assert result.steady_state_met, result.error
    (injection,) = result.injections
    analysis = injection.analysis
    # readiness queries PostgreSQL through the proxy: the 300 ms toxic shows in the probes
    assert analysis.effect_observed, analysis.detail
    assert analysis.effect_ms is not None
    assert analysis.effect_ms >= 250.0
    assert analysis.recovered, analysis.detail
    assert analysis.recover_s is not None
    assert analysis.recover_s < 30.0
    load = result.load
    assert load is not None
    assert load.result.requests > 0
    window = load.fault_window
    assert window.window == "fault"
    assert window.requests > 0
    assert load.within_budget == (window.error_rate <= experiment.expect.max_error_rate)
    assert set(load.result.latency_ms) >= {"p50", "p95", "p99"}
    if not load.within_budget:
        assert result.error is not None
        assert "error budget exceeded" in result.error
