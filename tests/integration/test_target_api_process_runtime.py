"""The process runtime: real process groups, killed whole."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import psutil
import pytest

from target_api.director.runtimes import ContainerSpec, Runtime, make_runtime
from target_api.director.runtimes.process import ProcessRuntime
from target_api.testing import poll_until

pytestmark = pytest.mark.integration


@pytest.fixture
def runtime() -> ProcessRuntime:
    rt = make_runtime("process", owner=uuid.uuid4().hex)
    assert isinstance(rt, ProcessRuntime)
    return rt


def test_it_implements_the_runtime_protocol(runtime: ProcessRuntime) -> None:
    assert isinstance(runtime, Runtime)


def test_exit_code_and_log(runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = ContainerSpec("main", ("sh", "-c", "echo out; echo err >&2; exit 4"), env=(("A", "1"),))
    handle = runtime.start("pod", spec, env={}, workdir=tmp_path / "w", log_path=tmp_path / "l")
    poll_until("exit", lambda: runtime.poll(handle) is not None, 5, interval_s=0.02)
    assert runtime.poll(handle) == 4
    runtime.remove(handle)
    assert (tmp_path / "l").read_text() == "out\nerr\n"


def test_kill_reaches_the_whole_group_and_list_owned_finds_it(
    runtime: ProcessRuntime, tmp_path: Path
) -> None:
    spec = ContainerSpec("main", ("sh", "-c", "sleep 100 & sleep 100"))
    handle = runtime.start("pod-x", spec, env={}, workdir=tmp_path, log_path=tmp_path / "l")
    leader = psutil.Process(int(handle.ref))
    poll_until("both sleeps forked", lambda: len(leader.children()) == 2, 5, interval_s=0.02)
    children = leader.children()
    owned = runtime.list_owned()
    assert [(h.pod_id, h.container_name, h.ref) for h in owned] == [("pod-x", "main", handle.ref)]
    runtime.kill(handle, signal.SIGKILL)
    poll_until("leader ended", lambda: runtime.poll(handle) is not None, 5, interval_s=0.02)
    assert runtime.poll(handle) == 137
    for child in children:
        poll_until(
            "child killed",
            lambda c=child: not c.is_running() or c.status() == "zombie",
            5,
            interval_s=0.02,
        )
    runtime.remove(handle)
    assert runtime.list_owned() == []


def test_another_owner_does_not_see_or_kill_my_containers(
    runtime: ProcessRuntime, tmp_path: Path
) -> None:
    spec = ContainerSpec("main", ("sleep", "100"))
    handle = runtime.start("pod", spec, env={}, workdir=tmp_path, log_path=tmp_path / "l")
    stranger = ProcessRuntime(owner="someone-else")
    assert stranger.list_owned() == []
    stranger.kill(handle)
    assert runtime.poll(handle) is None
    runtime.remove(handle)
    assert runtime.poll(handle) is not None
