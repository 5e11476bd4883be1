"""Finding or starting a Toxiproxy server, in the order DESIGN.md fixes.

1. ``TOXIPROXY_URL`` (a server someone else runs);
2. ``toxiproxy-server`` on PATH, started on a free loopback port and stopped afterwards;
3. a Docker engine with a Toxiproxy image present (``TOXIPROXY_IMAGE``; by default the
   first of ``ghcr.io/shopify/toxiproxy`` and ``moonbase/toxiproxy``, the image
   ``./moonbase test`` imports from the binary it builds), host network;
4. the embedded default: an in-process proxy speaking Toxiproxy's HTTP API.

Whichever serves is reported by ``reliable-test-runner doctor`` and in report.json.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from harness.errors import ToxiproxyUnavailable
from harness.netguard import ensure_loopback_url
from harness.processes import ManagedProcess, free_port

_log = logging.getLogger(__name__)

__all__ = [
    "ToxiproxyServer",
    "describe_toxiproxy",
    "find_toxiproxy_binary",
    "provision_toxiproxy",
    "start_docker_toxiproxy",
    "start_real_toxiproxy",
    "toxiproxy_version",
]

Kind = Literal["url", "binary", "docker", "embedded"]
DEFAULT_IMAGES = ("ghcr.io/shopify/toxiproxy", "moonbase/toxiproxy")


class _Stoppable(Protocol):
    def stop(self) -> object: ...


@dataclass(slots=True)
class ToxiproxyServer(AbstractContextManager["ToxiproxyServer"]):
    """A Toxiproxy API endpoint and how to let go of it."""

    url: str
    kind: Kind
    detail: str
    _owner: _Stoppable | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 8474

    @property
    def real(self) -> bool:
        return self.kind != "embedded"

    def stop(self) -> None:
        if self._owner is not None:
            self._owner.stop()
            self._owner = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


def toxiproxy_version(url: str, timeout_s: float = 2.0) -> str | None:
    """The server's version string, or None when nothing answers at ``url``."""
    try:
        response = httpx.get(url.rstrip("/") + "/version", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    text = response.text.strip()
    try:
        data = response.json()
    except ValueError:
        return text
    if isinstance(data, dict):
        return str(data.get("version", text))
    return str(data)


def find_toxiproxy_binary() -> str | None:
    return shutil.which("toxiproxy-server")


def _wait_version(url: str, deadline_s: float) -> str | None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        version = toxiproxy_version(url, timeout_s=0.5)
        if version is not None:
            return version
        time.sleep(0.05)  # polling interval, bounded by the deadline
    return None


def start_real_toxiproxy(binary: str | None = None, deadline_s: float = 15.0) -> ToxiproxyServer:
    """Start ``toxiproxy-server`` on a free loopback port; raise ToxiproxyUnavailable on failure."""
    binary = binary or find_toxiproxy_binary()
    if binary is None:
        raise ToxiproxyUnavailable("toxiproxy-server is not on PATH")
    last_error = ""
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = free_port()
        process = ManagedProcess(
            "toxiproxy-server", [binary, "-host", "127.0.0.1", "-port", str(port)]
        ).start()
        process.drain()
        url = f"http://127.0.0.1:{port}"
        version = _wait_version(url, deadline_s)
        if version is not None:
            return ToxiproxyServer(
                url, "binary", f"{binary} {version} (pid {process.pid})", process
            )
        last_error = "\n  ".join(process.tail())
        process.stop()
    raise ToxiproxyUnavailable(f"{binary} did not answer on /version; last output:\n  {last_error}")


class _DockerToxiproxy:
    def __init__(self, client: Any, container: Any) -> None:
        self._client = client
        self._container = container

    def logs(self) -> str:
        try:
            return str(self._container.logs(tail=20).decode(errors="replace"))
        except Exception as exc:  # noqa: BLE001 - only for an error message
            return f"(no logs: {exc})"

    def stop(self) -> None:
        try:
            self._container.remove(force=True)
        finally:
            self._client.close()


def _docker_toxiproxy_image() -> tuple[Any, str] | None:
    """(docker client, image name) when an engine answers and has a Toxiproxy image."""
    try:
        import docker  # noqa: PLC0415 - optional at run time, heavy import
        from docker.errors import DockerException
    except ImportError:
        return None
    wanted = os.environ.get("TOXIPROXY_IMAGE")
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except DockerException:
        return None
    for image in (wanted,) if wanted else DEFAULT_IMAGES:
        try:
            client.images.get(image)
        except DockerException:
            continue
        return client, image
    client.close()
    return None


OWNER_LABEL, OWNER_VALUE = "moonbase.owner", "harness-toxiproxy"
PID_LABEL = "moonbase.harness-pid"
PIDNS_LABEL = "moonbase.harness-pidns"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"


def _remove_abandoned(client: Any) -> None:
    """Remove Toxiproxy containers left by harness processes that are gone (killed before
    they could stop them). Only a harness of this PID namespace can be judged gone; those
    of running harnesses, or of other namespaces sharing the engine, are left alone."""
    import docker.errors  # noqa: PLC0415 - only on the Docker path
    import psutil  # noqa: PLC0415 - only on the Docker path

    here = _pid_namespace()
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        labels = container.labels
        if labels.get(OWNER_LABEL) != OWNER_VALUE or labels.get(PIDNS_LABEL) != here:
            continue
        pid = labels.get(PID_LABEL, "")
        if here == "unknown" or (pid.isdigit() and psutil.pid_exists(int(pid))):
            continue
        try:
            container.remove(force=True)
        except docker.errors.NotFound:  # removed meanwhile by someone else: fine
            continue
        except docker.errors.APIError as exc:  # e.g. removal already in progress: said, not hidden
            _log.warning(
                "could not remove abandoned Toxiproxy container %s: %s", container.name, exc
            )


def start_docker_toxiproxy(deadline_s: float = 20.0) -> ToxiproxyServer | None:
    """A Toxiproxy container on the host network, if an engine and the image are both here."""
    found = _docker_toxiproxy_image()
    if found is None:
        return None
    client, image = found
    _remove_abandoned(client)
    port = free_port()
    container = client.containers.run(
        image,
        command=["-host", "127.0.0.1", "-port", str(port)],
        network_mode="host",
        detach=True,
        labels={
            OWNER_LABEL: OWNER_VALUE,
            PID_LABEL: str(os.getpid()),
            PIDNS_LABEL: _pid_namespace(),
        },
    )
    owner = _DockerToxiproxy(client, container)
    url = f"http://127.0.0.1:{port}"
    version = _wait_version(url, deadline_s)
    if version is None:
        logs = owner.logs()
        owner.stop()
        raise ToxiproxyUnavailable(
            f"Toxiproxy container from {image} did not answer on {url}/version within"
            f" {deadline_s} s; its last output:\n  {logs.strip()}"
        )
    return ToxiproxyServer(
        url, "docker", f"{image} {version} (container {container.short_id})", owner
    )


def _start_embedded() -> ToxiproxyServer:
    from harness.toxiproxy.embedded import EmbeddedToxiproxy  # noqa: PLC0415

    server = EmbeddedToxiproxy(host="127.0.0.1", port=0)
    server.start()
    return ToxiproxyServer(server.url, "embedded", "in-process Toxiproxy-compatible proxy", server)


def provision_toxiproxy(
    *, allow_embedded: bool = True, allow_docker: bool = True, allow_non_loopback: bool = False
) -> ToxiproxyServer:
    """The first Toxiproxy server that can be had, in DESIGN.md's order."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        url = ensure_loopback_url(url, where="TOXIPROXY_URL", allow_non_loopback=allow_non_loopback)
        version = toxiproxy_version(url)
        if version is None:
            raise ToxiproxyUnavailable(f"TOXIPROXY_URL={url} does not answer on /version")
        return ToxiproxyServer(url, "url", f"TOXIPROXY_URL {url} (version {version})")
    if find_toxiproxy_binary() is not None:
        return start_real_toxiproxy()
    if allow_docker:
        server = start_docker_toxiproxy()
        if server is not None:
            return server
    if allow_embedded:
        return _start_embedded()
    raise ToxiproxyUnavailable(
        "no Toxiproxy server: TOXIPROXY_URL is unset, toxiproxy-server is not on PATH, "
        "no Docker engine with a Toxiproxy image, and the embedded default is disabled"
    )


def describe_toxiproxy() -> tuple[Kind, str]:
    """What provision_toxiproxy would use, without starting anything (for `doctor`)."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        version = toxiproxy_version(url)
        state = f"version {version}" if version else "NOT ANSWERING"
        return "url", f"TOXIPROXY_URL={url} ({state})"
    binary = find_toxiproxy_binary()
    if binary is not None:
        return "binary", f"toxiproxy-server at {binary}"
    found = _docker_toxiproxy_image()
    if found is not None:
        client, image = found
        client.close()
        return "docker", f"image {image} on the Docker engine (host network)"
    return "embedded", "no real server found; the embedded Toxiproxy-compatible proxy will serve"
