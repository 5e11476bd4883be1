"""The docker runtime against a real Docker engine (started by .ci/setup-docker.sh).

Skips on a machine without an engine; fails instead when CI=true. Every container a
test creates carries a unique owner label and is removed by the fixture's teardown,
which then checks through a separate client that none is left.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from harness.plugin import require_component
from target_api.director.runtimes.base import ContainerHandle, ContainerSpec, Runtime
from target_api.director.runtimes.docker import (
    HOST_NETWORK_ANCHOR,
    LABEL_OWNER,
    DockerContainerGone,
    DockerEngineUnavailable,
    DockerImageMissing,
    DockerRuntime,
    DockerRuntimeError,
    docker_available,
)
from target_api.testing import poll_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.docker,
    pytest.mark.jobdirector,
    # a wedged engine must fail the test, not hang the run (see the anchor in docker.py)
    pytest.mark.timeout(180),
]

WAIT_S = 20.0  # generous: the engine shares 2 cores with other test runs
POLL_S = 0.02


def wait_exit(runtime: DockerRuntime, handle: ContainerHandle) -> int:
    """Poll until the container ends; its exit code."""
    codes: list[int] = []

    def ended() -> bool:
        code = runtime.poll(handle)
        if code is not None:
            codes.append(code)
        return code is not None

    poll_until(f"container {handle.container_name} exited", ended, WAIT_S, POLL_S)
    return codes[0]


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    """A client of its own, to check from the outside what the runtime did."""
    require_component("Docker engine", docker_available())
    client = docker.from_env(timeout=30)
    yield client
    client.close()


@pytest.fixture
def make_runtime(
    engine: docker.DockerClient,
) -> Iterator[Callable[..., DockerRuntime]]:
    """DockerRuntime factory; teardown removes every container of every owner used."""
    runtimes: list[DockerRuntime] = []
    owners: set[str] = set()

    def make(owner: str | None = None) -> DockerRuntime:
        runtime = DockerRuntime(owner or f"test-{uuid.uuid4().hex[:12]}")
        runtimes.append(runtime)
        owners.add(runtime.owner)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()
    for owner in owners:
        for container in engine.containers.list(
            all=True, filters={"label": f"{LABEL_OWNER}={owner}"}
        ):
            container.remove(force=True)
        left = engine.containers.list(all=True, filters={"label": f"{LABEL_OWNER}={owner}"})
        assert left == [], f"containers of {owner} left behind: {left}"


@pytest.fixture
def runtime(make_runtime: Callable[..., DockerRuntime]) -> DockerRuntime:
    return make_runtime()


def shell(name: str, script: str, **env: str) -> ContainerSpec:
    return ContainerSpec(name=name, command=("sh", "-c", script), env=tuple(env.items()))


def test_runtime_satisfies_the_protocol(runtime: DockerRuntime) -> None:
    assert isinstance(runtime, Runtime)
    assert runtime.name == "docker"


def test_echo_output_reaches_log_path(runtime: DockerRuntime, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "main.log"
    handle = runtime.start(
        "pod-1", shell("main", "echo hi"), env={}, workdir=tmp_path / "w", log_path=log
    )
    assert wait_exit(runtime, handle) == 0
    # poll reported the exit only after the log stream drained: no waiting needed here
    assert log.read_text() == "hi\n"
    assert handle.runtime == "docker"
    assert (handle.pod_id, handle.container_name) == ("pod-1", "main")


def test_stdout_and_stderr_both_reach_the_log(runtime: DockerRuntime, tmp_path: Path) -> None:
    # the engine copies the two streams separately: each keeps its order, their
    # interleaving is not guaranteed (see the runtime's docstring)
    log = tmp_path / "main.log"
    script = "echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2"
    handle = runtime.start("pod-1", shell("main", script), env={}, workdir=tmp_path, log_path=log)
    assert wait_exit(runtime, handle) == 0
    lines = log.read_text().splitlines()
    assert [line for line in lines if line.startswith("out")] == ["out-1", "out-2"]
    assert [line for line in lines if line.startswith("err")] == ["err-1", "err-2"]
    assert len(lines) == 4


@pytest.mark.parametrize("code", [1, 3, 42])
def test_exit_code_comes_back(runtime: DockerRuntime, tmp_path: Path, code: int) -> None:
    handle = runtime.start(
        "pod-1", shell("main", f"exit {code}"), env={}, workdir=tmp_path, log_path=tmp_path / "l"
    )
    assert wait_exit(runtime, handle) == code


def test_sigkill_ends_a_sleeping_container(runtime: DockerRuntime, tmp_path: Path) -> None:
    spec = ContainerSpec(name="sleeper", command=("sleep", "1000"))
    handle = runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=tmp_path / "l")
    assert runtime.poll(handle) is None
    runtime.kill(handle)
    assert wait_exit(runtime, handle) == 128 + signal.SIGKILL


def test_sigterm_reaches_the_whole_process_group(runtime: DockerRuntime, tmp_path: Path) -> None:
    # sh waits on sleep; only if the group is signalled does sleep die and "after" never print
    log = tmp_path / "l"
    spec = shell("sleeper", "echo started; sleep 1000; echo after")
    handle = runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=log)
    poll_until("the script started", lambda: log.read_text() == "started\n", WAIT_S, POLL_S)
    runtime.kill(handle, signal.SIGTERM)
    assert wait_exit(runtime, handle) == 128 + signal.SIGTERM
    assert log.read_text() == "started\n"


def test_kill_of_an_ended_container_is_a_no_op(runtime: DockerRuntime, tmp_path: Path) -> None:
    handle = runtime.start(
        "pod-1", shell("main", "exit 5"), env={}, workdir=tmp_path, log_path=tmp_path / "l"
    )
    assert wait_exit(runtime, handle) == 5
    runtime.kill(handle)
    assert runtime.poll(handle) == 5


def test_list_owned_finds_containers_after_a_restart_and_not_other_owners(
    make_runtime: Callable[..., DockerRuntime], tmp_path: Path
) -> None:
    first = make_runtime()
    other = make_runtime()
    sleeping = first.start(
        "pod-a",
        ContainerSpec("main", ("sleep", "1000")),
        env={},
        workdir=tmp_path,
        log_path=tmp_path / "a.log",
    )
    ended = first.start(
        "pod-b", shell("side", "exit 2"), env={}, workdir=tmp_path, log_path=tmp_path / "b.log"
    )
    assert wait_exit(first, ended) == 2
    foreign = other.start(
        "pod-c",
        ContainerSpec("main", ("sleep", "1000")),
        env={},
        workdir=tmp_path,
        log_path=tmp_path / "c.log",
    )
    first.close()

    restarted = make_runtime(first.owner)
    found = restarted.list_owned()

    assert sorted(found, key=lambda h: h.pod_id) == [sleeping, ended]  # equal handles
    assert foreign.ref not in {h.ref for h in found}
    assert other.list_owned() == [foreign]
    # the restarted runtime can drive what it found
    by_pod = {h.pod_id: h for h in found}
    assert restarted.poll(by_pod["pod-b"]) == 2
    assert restarted.poll(by_pod["pod-a"]) is None
    restarted.kill(by_pod["pod-a"])
    assert wait_exit(restarted, by_pod["pod-a"]) == 128 + signal.SIGKILL


def test_logs_are_complete_after_a_restart_mid_run(
    make_runtime: Callable[..., DockerRuntime], tmp_path: Path
) -> None:
    first = make_runtime()
    log = tmp_path / "job.log"
    go = tmp_path / "go"
    script = f"echo before; while [ ! -e {go} ]; do sleep 0.02; done; echo after"
    first.start("pod-1", shell("main", script), env={}, workdir=tmp_path, log_path=log)
    poll_until("the first line", lambda: log.read_text() == "before\n", WAIT_S, POLL_S)
    first.close()  # the director goes away; the container keeps running
    go.touch()  # the job finishes while no one follows its log

    restarted = make_runtime(first.owner)
    (handle,) = restarted.list_owned()
    assert wait_exit(restarted, handle) == 0
    assert log.read_text() == "before\nafter\n"


def test_remove_is_idempotent(
    runtime: DockerRuntime, engine: docker.DockerClient, tmp_path: Path
) -> None:
    spec = ContainerSpec(name="sleeper", command=("sleep", "1000"))
    handle = runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=tmp_path / "l")
    runtime.remove(handle)
    runtime.remove(handle)
    assert runtime.list_owned() == []
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(handle.ref)
    with pytest.raises(DockerContainerGone, match="no longer exists"):
        runtime.poll(handle)
    runtime.kill(handle)  # nothing left to signal: not an error


def test_remove_keeps_the_log_written_so_far(runtime: DockerRuntime, tmp_path: Path) -> None:
    log = tmp_path / "l"
    spec = shell("main", "echo kept; sleep 1000")
    handle = runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=log)
    poll_until("the line logged", lambda: log.read_text() == "kept\n", WAIT_S, POLL_S)
    runtime.remove(handle)
    assert log.read_text() == "kept\n"


def test_artifacts_written_in_the_container_appear_on_the_host(
    runtime: DockerRuntime, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    artifacts = workdir / "artifacts"
    script = 'echo result > "$MOONBASE_ARTIFACTS_DIR/out.txt"; echo scratch > local.txt'
    handle = runtime.start(
        "pod-1",
        shell("main", script),
        env={"MOONBASE_ARTIFACTS_DIR": str(artifacts)},
        workdir=workdir,
        log_path=tmp_path / "l",
    )
    assert wait_exit(runtime, handle) == 0
    assert (artifacts / "out.txt").read_text() == "result\n"
    assert (workdir / "local.txt").read_text() == "scratch\n"  # workdir is the cwd
    assert (artifacts / "out.txt").stat().st_uid == os.getuid()  # the host user owns it


def test_artifacts_dir_outside_workdir_is_mounted(runtime: DockerRuntime, tmp_path: Path) -> None:
    artifacts = tmp_path / "elsewhere" / "artifacts"
    handle = runtime.start(
        "pod-1",
        shell("main", 'echo ok > "$MOONBASE_ARTIFACTS_DIR/a"'),
        env={"MOONBASE_ARTIFACTS_DIR": str(artifacts)},
        workdir=tmp_path / "work",
        log_path=tmp_path / "l",
    )
    assert wait_exit(runtime, handle) == 0
    assert (artifacts / "a").read_text() == "ok\n"


def test_env_from_spec_and_argument_with_the_argument_winning(
    runtime: DockerRuntime, tmp_path: Path
) -> None:
    log = tmp_path / "l"
    spec = shell("main", 'echo "$A $B"', A="from-spec", B="from-spec")
    handle = runtime.start(
        "pod-1", spec, env={"B": "from-director"}, workdir=tmp_path, log_path=log
    )
    assert wait_exit(runtime, handle) == 0
    assert log.read_text() == "from-spec from-director\n"


def test_container_on_host_network_reaches_a_loopback_server(
    runtime: DockerRuntime, tmp_path: Path
) -> None:
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT_S)
        port = server.getsockname()[1]

        def serve_one() -> None:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(WAIT_S)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                received.append(data)
                conn.sendall(b"pong\n")

        thread = threading.Thread(target=serve_one, daemon=True)
        thread.start()
        log = tmp_path / "l"
        script = f"echo ping-from-container | nc 127.0.0.1 {port}"
        handle = runtime.start(
            "pod-1", shell("main", script), env={}, workdir=tmp_path, log_path=log
        )
        assert wait_exit(runtime, handle) == 0
        thread.join(WAIT_S)
    assert received == [b"ping-from-container\n"]
    assert log.read_text() == "pong\n"


def test_jobs_join_the_host_network_through_the_anchor_and_no_network_is_created(
    runtime: DockerRuntime, engine: docker.DockerClient, tmp_path: Path
) -> None:
    networks_before = {network.name for network in engine.networks.list()}
    handle = runtime.start(
        "pod-1", shell("main", "true"), env={}, workdir=tmp_path, log_path=tmp_path / "l"
    )
    assert wait_exit(runtime, handle) == 0
    anchor = engine.containers.get(HOST_NETWORK_ANCHOR)
    assert anchor.attrs["HostConfig"]["NetworkMode"] == "host"
    assert anchor.status == "running"
    job = engine.containers.get(handle.ref)
    assert job.attrs["HostConfig"]["NetworkMode"] == f"container:{anchor.id}"
    assert {network.name for network in engine.networks.list()} == networks_before
    assert "bridge" not in networks_before  # the engine runs with --bridge=none


def test_many_jobs_ending_together_do_not_wedge_the_engine(
    runtime: DockerRuntime, tmp_path: Path
) -> None:
    # 20.10's libnetwork deadlocked on host-network containers ending at once: this
    # reproduced it within a few rounds before jobs joined the anchor's namespace.
    threads_n, rounds = 8, 3
    results: dict[tuple[int, int], tuple[int, str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n, timeout=WAIT_S)

    def worker(index: int) -> None:
        try:
            for round_ in range(rounds):
                log = tmp_path / f"{index}-{round_}.log"
                spec = shell(f"c{index}", f"echo job-{index}-{round_}; exit {index}")
                barrier.wait()  # start together so they also end together
                handle = runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=log)
                code = wait_exit(runtime, handle)
                results[(index, round_)] = (code, log.read_text())
                runtime.remove(handle)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * rounds)
    assert errors == []
    assert results == {
        (i, r): (i, f"job-{i}-{r}\n") for i in range(threads_n) for r in range(rounds)
    }
    assert runtime.list_owned() == []


def test_a_closed_runtime_starts_nothing(runtime: DockerRuntime, tmp_path: Path) -> None:
    runtime.close()
    with pytest.raises(DockerRuntimeError, match="is closed"):
        runtime.start(
            "pod-1", shell("main", "true"), env={}, workdir=tmp_path, log_path=tmp_path / "l"
        )
    assert runtime.list_owned() == []


def test_missing_image_is_a_clear_error(
    make_runtime: Callable[..., DockerRuntime], runtime: DockerRuntime, tmp_path: Path
) -> None:
    with pytest.raises(DockerImageMissing, match="never pulls"):
        DockerRuntime("test-missing-image", image="moonbase/not-there:0")
    spec = ContainerSpec(name="main", command=("true",), image="moonbase/not-there:0")
    with pytest.raises(DockerImageMissing, match="moonbase/not-there:0"):
        runtime.start("pod-1", spec, env={}, workdir=tmp_path, log_path=tmp_path / "l")
    assert runtime.list_owned() == []


def test_unreachable_engine_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a socket path where nothing listens: no engine, and no traffic leaves the host
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert docker_available(timeout_s=1) is False
    with pytest.raises(DockerEngineUnavailable, match="no-engine.sock"):
        DockerRuntime("test-no-engine")
