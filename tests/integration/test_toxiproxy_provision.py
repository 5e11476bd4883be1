"""Provisioning finds Toxiproxy in DESIGN.md's order, with real servers: TOXIPROXY_URL,
then toxiproxy-server on PATH, then a Docker engine with a Toxiproxy image, then the
embedded default; `doctor`'s description agrees with what is then started, and stopping
lets go of what was started (the process, the container)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import psutil
import pytest
from docker.errors import DockerException, NotFound

from harness.errors import ToxiproxyUnavailable, UnsafeTargetError
from harness.plugin import require_component
from harness.processes import free_port
from harness.toxiproxy.embedded import EmbeddedToxiproxy
from harness.toxiproxy.provision import (
    describe_toxiproxy,
    find_toxiproxy_binary,
    provision_toxiproxy,
    toxiproxy_version,
)

pytestmark = [pytest.mark.integration, pytest.mark.toxiproxy]

ABSENT_IMAGE = "moonbase/no-such-toxiproxy:0"


def _path_without_toxiproxy() -> str:
    kept = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "toxiproxy-server").exists()
    ]
    return os.pathsep.join(kept)


@pytest.fixture
def no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.delenv("TOXIPROXY_IMAGE", raising=False)


@pytest.fixture
def no_binary(no_url: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_without_toxiproxy())
    assert find_toxiproxy_binary() is None


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except DockerException:
        require_component("Docker engine", False, " (.ci/setup-docker.sh)")
        raise
    yield client
    client.close()


@pytest.fixture
def toxiproxy_image(engine: docker.DockerClient) -> str:
    """The Toxiproxy image ./moonbase test imports from the binary it builds."""
    require_component(
        "Toxiproxy Docker image",
        bool(engine.images.list(name="moonbase/toxiproxy")),
        " (./moonbase test imports moonbase/toxiproxy from the binary it builds)",
    )
    return "moonbase/toxiproxy"


def test_toxiproxy_url_comes_first_and_is_not_stopped_by_us(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with EmbeddedToxiproxy() as someone_elses:
        monkeypatch.setenv("TOXIPROXY_URL", someone_elses.url)
        assert describe_toxiproxy()[0] == "url"
        with provision_toxiproxy() as server:
            assert (server.kind, server.url) == ("url", someone_elses.url)
            assert "TOXIPROXY_URL" in server.detail
        assert toxiproxy_version(someone_elses.url) is not None  # still serving


def test_a_toxiproxy_url_that_does_not_answer_is_an_error_not_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:1")
    with pytest.raises(ToxiproxyUnavailable, match=r"TOXIPROXY_URL=http://127\.0\.0\.1:1"):
        provision_toxiproxy()
    assert "NOT ANSWERING" in describe_toxiproxy()[1]


def test_a_toxiproxy_url_off_loopback_is_refused_without_the_allow_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "http://10.0.0.1:8474")
    with pytest.raises(UnsafeTargetError, match="outside 127.0.0.0/8"):
        provision_toxiproxy()


def test_toxiproxy_server_on_path_is_started_and_stopped(no_url: None) -> None:
    require_component(
        "toxiproxy-server on PATH", find_toxiproxy_binary() is not None, " (./moonbase test)"
    )
    assert describe_toxiproxy()[0] == "binary"
    with provision_toxiproxy() as server:
        assert server.kind == "binary"
        assert server.host == "127.0.0.1"
        assert toxiproxy_version(server.url) is not None
        pid = int(server.detail.rsplit("pid ", 1)[1].rstrip(")"))
        process = psutil.Process(pid)
    process.wait(10)  # raises if it is still running after stop()
    assert not psutil.pid_exists(pid) or process.status() == psutil.STATUS_ZOMBIE
    assert toxiproxy_version(server.url, timeout_s=0.5) is None


def test_without_a_binary_a_docker_image_serves_on_the_host_network_and_is_removed(
    no_binary: None, engine: docker.DockerClient, toxiproxy_image: str
) -> None:
    kind, detail = describe_toxiproxy()
    assert kind == "docker", detail
    with provision_toxiproxy() as server:
        assert server.kind == "docker"
        assert server.host == "127.0.0.1"
        assert toxiproxy_version(server.url) is not None
        container_id = server.detail.rsplit("container ", 1)[1].rstrip(")")
        container = engine.containers.get(container_id)
        assert container.labels["moonbase.owner"] == "harness-toxiproxy"
        assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    with pytest.raises(NotFound):
        engine.containers.get(container_id)
    assert toxiproxy_version(server.url, timeout_s=0.5) is None


def test_an_absent_image_falls_through_to_the_embedded_default(
    no_binary: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOXIPROXY_IMAGE", ABSENT_IMAGE)
    assert describe_toxiproxy()[0] == "embedded"
    with provision_toxiproxy() as server:
        assert server.kind == "embedded"
        assert toxiproxy_version(server.url) is not None
    assert toxiproxy_version(server.url, timeout_s=0.5) is None


def test_with_nothing_real_and_the_embedded_default_disabled_it_says_what_is_missing(
    no_binary: None,
) -> None:
    with pytest.raises(ToxiproxyUnavailable) as excinfo:
        provision_toxiproxy(allow_embedded=False, allow_docker=False)
    message = str(excinfo.value)
    for missing in ("TOXIPROXY_URL is unset", "not on PATH", "embedded default is disabled"):
        assert missing in message


def test_containers_abandoned_by_a_dead_harness_are_removed_those_of_live_ones_kept(
    no_binary: None, engine: docker.DockerClient, toxiproxy_image: str
) -> None:
    child = subprocess.Popen(["true"])  # reaped below: a pid that no longer runs
    child.wait()
    dead_pid = child.pid
    assert not psutil.pid_exists(dead_pid)

    def leftover(pid: int, pidns: str) -> str:
        container = engine.containers.create(
            toxiproxy_image,
            command=["-host", "127.0.0.1", "-port", str(free_port())],
            network_mode="host",
            labels={
                "moonbase.owner": "harness-toxiproxy",
                "moonbase.harness-pid": str(pid),
                "moonbase.harness-pidns": pidns,
            },
        )
        return str(container.id)

    here = os.readlink("/proc/self/ns/pid")
    abandoned = leftover(dead_pid, here)
    alive = leftover(os.getpid(), here)
    elsewhere = leftover(dead_pid, "pid:[1]")  # another namespace: its pids mean nothing here
    try:
        with provision_toxiproxy() as server:
            assert server.kind == "docker"
        with pytest.raises(NotFound):
            engine.containers.get(abandoned)
        assert engine.containers.get(alive).labels["moonbase.harness-pid"] == str(os.getpid())
        assert engine.containers.get(elsewhere).labels["moonbase.harness-pidns"] == "pid:[1]"
    finally:
        for container_id in (abandoned, alive, elsewhere):
            with contextlib.suppress(NotFound):
                engine.containers.get(container_id).remove(force=True)
