"""kill_container without a server: reading a pod's JSON, judging probes, refusing strangers.

The judge is fed ``httpx.Response`` values built in memory; the kill refusals run against
real processes that are not pod containers (this test's own, and a child in its own
session without the pod's environment), which must survive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.chaos.experiment import PodSpec
from harness.chaos.timeline import ProbeSample, analyse_injection
from harness.errors import InfrastructureError, UnsafeTargetError
from harness.faults.pod import ContainerView, PodUnderTest, kill_process_group


def pod_body(state: str = "running", container: str = "running", restarts: int = 0,
             ref: str | None = "4242") -> dict[str, Any]:  # fmt: skip
    return {
        "id": "p1",
        "state": state,
        "containers": [
            {
                "name": "main",
                "state": container,
                "restarts": restarts,
                "runtime": "process",
                "ref": ref,
                "exit_code": None,
                "port": 1,
            }
        ],
    }


@pytest.fixture
def pod() -> Iterator[PodUnderTest]:
    under_test = PodUnderTest("http://127.0.0.1:9", "token", PodSpec(), "p")
    yield under_test
    under_test._client.close()


def answer(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_a_container_view_reads_the_pod_json_and_rejects_what_lacks_a_container() -> None:
    view = ContainerView.of(pod_body(restarts=2, ref="77"))
    assert view == ContainerView("running", "running", 2, "process", "77")
    assert view.running
    assert not ContainerView("restarting", "restarting", 2, "process", None).running
    assert ContainerView.of({"id": "p1", "state": "running", "containers": []}) is None
    assert ContainerView.of({"id": "p1", "containers": [{"name": "main"}]}) is None
    assert ContainerView.of(["not", "a", "pod"]) is None


def test_a_pod_is_healthy_once_its_container_runs_again_with_one_more_restart(
    pod: PodUnderTest,
) -> None:
    assert pod.judge(answer(pod_body()))
    assert not pod.judge(answer({"error": "pod_not_found"}, 404))
    # what kill() sets before signalling: the container as it was, and the bar for healthy
    pod._killed, pod._baseline = ContainerView.of(pod_body()), 1
    assert not pod.judge(answer(pod_body(restarts=0)))  # not noticed yet: still the old one
    assert pod.effect_at is None
    assert not pod.judge(answer(pod_body("restarting", "restarting", 0, None)))
    noticed = pod.effect_at
    assert noticed is not None
    assert pod.judge(answer(pod_body(restarts=1, ref="4243")))
    assert pod.effect_at == noticed  # the first sighting counts
    pod.end_injection(0)
    assert [i.to_json() for i in pod.injections] == [
        {
            "index": 0,
            "killed_ref": "4242",
            "restarts_before": 0,
            "restarts_after": 1,
            "ref_after": "4243",
            "state_after": "running",
        }
    ]
    assert pod.record().to_json()["restarts_seen"] == [1]


def test_a_restart_faster_than_the_first_probe_still_counts_as_the_effect(
    pod: PodUnderTest,
) -> None:
    pod._killed, pod._baseline = ContainerView.of(pod_body()), 1
    assert pod.judge(answer(pod_body(restarts=1, ref="4243")))
    assert pod.effect_at is not None


def test_the_timeline_counts_an_effect_seen_outside_probe_health() -> None:
    samples = [ProbeSample(t / 10, 2.0, True, "steady") for t in range(5)]
    samples += [ProbeSample(0.6 + t / 10, 2.0, True, "recovery") for t in range(3)]
    without = analyse_injection(
        samples, t_inject=0.5, t_remove=0.5, max_latency_ms=50, recovered_after=3,
        min_effect_ms=None,
    )  # fmt: skip
    assert not without.effect_observed
    seen = analyse_injection(
        samples, t_inject=0.5, t_remove=0.5, max_latency_ms=50, recovered_after=3,
        min_effect_ms=None, effect_at=0.6,
    )  # fmt: skip
    assert seen.effect_observed
    assert seen.detect_s == pytest.approx(0.1)
    assert seen.recover_s == pytest.approx(0.1)
    assert "effect seen 0.100 s after injection" in seen.detail


def test_our_own_process_is_never_signalled_as_a_container() -> None:
    with pytest.raises(UnsafeTargetError, match="refusing to signal process"):
        kill_process_group("p1", "main", str(os.getpid()), signal.SIGKILL)


def test_a_group_leader_without_the_pods_environment_is_refused_and_survives() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        with pytest.raises(UnsafeTargetError, match="MOONBASE_POD_ID=None"):
            kill_process_group("p1", "main", str(child.pid), signal.SIGKILL)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait(10)


def test_a_ref_that_is_no_pid_or_no_process_is_an_infrastructure_error() -> None:
    with pytest.raises(InfrastructureError, match="is not a pid"):
        kill_process_group("p1", "main", "abc123", signal.SIGKILL)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)  # reaped: its pid names no process now
    with pytest.raises(InfrastructureError, match="gone before the kill"):
        kill_process_group("p1", "main", str(child.pid), signal.SIGKILL)
