"""kill_container against the real reference API: a pod's container killed from outside,
restarted by the JobDirector, the pod deleted afterwards with nothing of it left.

Real processes throughout: ``python -m target_api`` on a loopback port, the container a
real process group (process runtime) or a real container (docker runtime, when an engine
answers; required when CI=true).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from cli_helpers import ROOT
from toxiproxy_servers import running_toxiproxy

from harness.chaos.executor import ExperimentResult, run_experiment
from harness.chaos.experiment import load_experiment
from harness.faults.pod import POD_ENV, POD_LABEL
from harness.faults.supervisor import Supervisor
from harness.plugin import require_component
from harness.target import ReferenceTarget
from harness.toxiproxy.provision import ToxiproxyServer
from target_api.director.runtimes.docker import docker_available
from target_api.testing import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.jobdirector]

EXPERIMENT = ROOT / "scenarios" / "chaos" / "pod-container-kill.toml"


@pytest.fixture(scope="module")
def unused_proxy() -> Iterator[ToxiproxyServer]:
    # a container kill needs no proxy; run_experiment takes a server for the other links
    with running_toxiproxy("embedded") as server:
        yield server


def pod_processes(pod_id: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(POD_ENV) == pod_id and process.status() != "zombie":
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@contextlib.contextmanager
def pod_kill_run(
    tmp_path: Path, proxy: ToxiproxyServer, runtime: str
) -> Iterator[tuple[ExperimentResult, str]]:
    """The shipped experiment, two kills, on a supervised API; stopped however it ends."""
    api = ReferenceTarget(
        tmp_path / "api", log_path=tmp_path / "api.log", env={"MOONBASE_RUNTIME": runtime}
    )
    with api as running, Supervisor(api) as supervisor:
        result = run_experiment(
            load_experiment(EXPERIMENT), running.url, proxy, injections=2, supervisor=supervisor
        )
        yield result, running.url


def assert_killed_and_healed(result: ExperimentResult, runtime: str) -> str:
    assert result.error is None, result.error
    assert result.steady_state_met
    assert result.effect_observed
    assert len(result.injections) == 2
    for injection in result.injections:
        assert injection.analysis.recovered, injection.analysis.detail
        assert injection.analysis.recover_s is not None
        assert injection.analysis.recover_s < 30.0
    pod = result.pod
    assert pod is not None
    assert pod.runtime == runtime
    assert pod.restarts_seen == (1, 2)
    assert pod.deleted is True
    for seen in pod.injections:
        # a new container each time, not the killed one answering again
        assert seen.ref_after != seen.killed_ref
    body = result.to_json()
    assert body["pod"] == pod.to_json()
    assert body["recovered"] is True
    return pod.id


def test_a_killed_process_container_is_restarted_and_the_pod_is_deleted_afterwards(
    tmp_path: Path, unused_proxy: ToxiproxyServer
) -> None:
    with pod_kill_run(tmp_path, unused_proxy, "process") as (result, url):
        pod_id = assert_killed_and_healed(result, "process")
        assert httpx.get(f"{url}/api/v0/pods/{pod_id}").status_code == 404
        poll_until(f"no process of pod {pod_id}", lambda: not pod_processes(pod_id), 5)


def test_a_pod_shows_where_its_running_container_is(tmp_path: Path) -> None:
    with ReferenceTarget(tmp_path / "api") as api:
        auth = {"Authorization": f"Bearer {api.token}"}
        stack = {"name": "s1", "containers": [{"name": "main", "command": ["sleep", "60"]}]}
        with httpx.Client(base_url=api.url, headers=auth) as client:
            pod_id = client.post("/api/v0/pods", json={"name": "where", "stack": stack}).json()[
                "id"
            ]
            try:
                poll_until(
                    "a running container",
                    lambda: (
                        client.get(f"/api/v0/pods/{pod_id}").json()["containers"][0]["state"]
                        == "running"
                    ),
                    10,
                )
                (container,) = client.get(f"/api/v0/pods/{pod_id}").json()["containers"]
                (process,) = pod_processes(pod_id)
                assert (container["runtime"], container["ref"]) == ("process", str(process.pid))
            finally:
                client.delete(f"/api/v0/pods/{pod_id}")


@pytest.mark.docker
def test_a_killed_docker_container_is_restarted_and_the_pod_is_deleted_afterwards(
    tmp_path: Path, unused_proxy: ToxiproxyServer
) -> None:
    require_component("a Docker engine (.ci/setup-docker.sh)", docker_available())
    import docker

    with pod_kill_run(tmp_path, unused_proxy, "docker") as (result, url):
        pod_id = assert_killed_and_healed(result, "docker")
        assert httpx.get(f"{url}/api/v0/pods/{pod_id}").status_code == 404
        client = docker.from_env(timeout=10)
        try:
            poll_until(
                f"no container of pod {pod_id}",
                lambda: (
                    not client.containers.list(all=True, filters={"label": f"{POD_LABEL}={pod_id}"})
                ),
                10,
            )
        finally:
            client.close()


def test_a_container_that_is_never_restarted_is_reported_unrecovered_and_still_deleted(
    tmp_path: Path, unused_proxy: ToxiproxyServer
) -> None:
    experiment = tmp_path / "never.toml"
    experiment.write_text(
        EXPERIMENT.read_text()
        .replace('restart_policy = "always"', 'restart_policy = "never"')
        .replace("max_recovery_s = 30.0", "max_recovery_s = 2.0")
    )
    api = ReferenceTarget(tmp_path / "api", log_path=tmp_path / "api.log")
    with api as running, Supervisor(api) as supervisor:
        result = run_experiment(
            load_experiment(experiment), running.url, unused_proxy, supervisor=supervisor
        )
        assert result.error is None, result.error
        assert result.effect_observed  # the probes saw the container die
        assert not result.injections[0].analysis.recovered
        assert result.pod is not None
        assert result.pod.restarts_seen == (0,)
        assert result.pod.deleted is True
        pod_id = result.pod.id
        assert httpx.get(f"{running.url}/api/v0/pods/{pod_id}").status_code == 404
        assert not pod_processes(pod_id)
