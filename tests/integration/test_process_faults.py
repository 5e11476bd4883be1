"""Process faults on the real reference API: kill -9 under the supervisor, SIGSTOP/SIGCONT.

Real processes throughout: the API is ``python -m target_api`` on a loopback port, the
supervisor restarts it on that port, and the probes are real HTTP requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import ROOT, run_cli
from toxiproxy_servers import running_toxiproxy

from harness.chaos.executor import run_experiment
from harness.chaos.experiment import load_experiment
from harness.faults.supervisor import Supervisor
from harness.target import ReferenceTarget
from harness.toxiproxy.provision import ToxiproxyServer

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

CHAOS = ROOT / "scenarios" / "chaos"


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervisor[ReferenceTarget]]:
    api = ReferenceTarget(tmp_path / "api", log_path=tmp_path / "api.log")
    api.start()
    with Supervisor(api) as supervisor:
        yield supervisor


@pytest.fixture(scope="module")
def unused_proxy() -> Iterator[ToxiproxyServer]:
    # process faults need no proxy; run_experiment takes a server for the other links
    with running_toxiproxy("embedded") as server:
        yield server


def test_kill_9_is_restarted_on_the_same_port_with_its_data_and_token(
    supervised: Supervisor[ReferenceTarget], unused_proxy: ToxiproxyServer
) -> None:
    api = supervised.process
    url, first_pid = api.url, api.pid
    auth = {"Authorization": f"Bearer {api.token}"}
    created = httpx.post(f"{url}/api/v0/pods", json={"name": "survivor"}, headers=auth)
    assert created.status_code == 201, created.text
    pod_id = created.json()["id"]

    experiment = load_experiment(CHAOS / "api-kill.toml")
    result = run_experiment(experiment, url, unused_proxy, injections=2, supervisor=supervised)

    assert result.error is None, result.error
    assert len(result.restarts) == 2
    assert [r.exit_status for r in result.restarts] == ["signal SIGKILL"] * 2
    assert api.pid != first_pid
    assert api.url == url  # same port
    for injection in result.injections:
        analysis = injection.analysis
        assert injection.t_inject == injection.t_remove  # a kill is instantaneous
        assert analysis.effect_observed, analysis.detail  # probes failed while it was down
        assert analysis.fault_error_rate > 0.0  # refused while down (a slow first answer
        # of the restarted API also deviates, so not every fault probe need be an error)
        assert analysis.recover_s is not None
        assert analysis.recover_s < 30.0
    summary = result.to_json()
    assert summary["recovered"] is True
    # same data directory and token: the pod is still there, and the token still works
    assert httpx.get(f"{url}/api/v0/pods/{pod_id}").status_code == 200
    again = httpx.post(f"{url}/api/v0/pods", json={"name": "after"}, headers=auth)
    assert again.status_code == 201, again.text


def test_pause_hangs_the_api_and_it_recovers_without_a_restart(
    supervised: Supervisor[ReferenceTarget], unused_proxy: ToxiproxyServer
) -> None:
    pid = supervised.process.pid
    experiment = load_experiment(CHAOS / "api-pause.toml")
    result = run_experiment(experiment, supervised.process.url, unused_proxy, supervisor=supervised)
    assert result.error is None, result.error
    (injection,) = result.injections
    assert injection.analysis.effect_observed, injection.analysis.detail
    assert injection.t_remove - injection.t_inject >= 2.0  # held for duration_s
    assert injection.analysis.recovered, injection.analysis.detail
    assert result.restarts == ()  # a stopped process is not a dead one
    assert supervised.process.pid == pid


def test_process_faults_are_refused_for_an_external_target(tmp_path: Path) -> None:
    with ReferenceTarget(tmp_path / "api") as external:
        result = run_cli(
            "chaos",
            "api-kill",
            "--target-url",
            external.url,
            "--report-dir",
            str(tmp_path / "reports"),
            timeout=120,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "api-kill" in result.stderr
    assert "--target-url" in result.stderr


def test_the_chaos_command_kills_and_reports_the_supervised_restart(tmp_path: Path) -> None:
    result = run_cli(
        "chaos", "api-kill", "--injections", "2", "--report-dir", str(tmp_path), timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    (chaos,) = report["chaos"]
    assert chaos["effect_observed"] is True
    assert len(chaos["restarts"]) == 2
    summary = chaos["recovery_summary"]
    assert summary["n"] == 2
    assert summary["unrecovered"] == 0
    assert summary["max_s"] < 30.0


def test_the_gate_refuses_them_for_an_external_target_before_any_traffic(tmp_path: Path) -> None:
    # nothing listens on port 9: the refusal must come before the target is even contacted
    result = run_cli(
        "gate",
        "--profile",
        "release",
        "--target-url",
        "http://127.0.0.1:9",
        "--report-dir",
        str(tmp_path),
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'api-kill'" in result.stderr
    assert "'api-pause'" in result.stderr
    assert "'db-latency-under-load'" in result.stderr
    assert not (tmp_path / "latest").exists()  # no run was opened
