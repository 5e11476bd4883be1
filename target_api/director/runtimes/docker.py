"""The ``docker`` runtime: each container of a stack is a Docker container.

Selection: the director uses this runtime when ``MOONBASE_RUNTIME=docker`` (the default,
``process``, runs local process groups). It builds it with::

    DockerRuntime(owner=<director id>)               # image defaults to DEFAULT_IMAGE

``owner`` is stored in the ``moonbase.owner`` label of every container, so a restarted
director constructing ``DockerRuntime`` with the same owner finds what it left running
through :meth:`DockerRuntime.list_owned`. Construction fails with
:class:`DockerEngineUnavailable` when no engine answers (start one with
``.ci/setup-docker.sh``) and imports the default busybox image if it is missing
(:mod:`target_api.director.images`); nothing is ever pulled from a registry.

How a container runs:

- The host's network namespace: the job reaches 127.0.0.1 like a local process would,
  and no bridge network is ever created (the engine runs with ``--bridge=none``). Jobs
  join it as ``network_mode="container:<anchor>"``, where the anchor is one long-lived
  ``network_mode="host"`` container per engine (:func:`ensure_host_network_anchor`).
  Why not ``network_mode="host"`` on every job: Docker 20.10's libnetwork (Debian's
  docker.io 20.10.24 is what CI installs) deadlocks when two host-network containers
  release their endpoints at once (``sbLeave -> getSvcRecords`` against
  ``processEndpointDelete``; moby/libnetwork#2649, fixed by moby/moby#42545, never in
  20.10.24). It is a rare race (here: once in about 100 containers of this module's
  tests, then not again in 1,000 containers of a synthetic churn), but it hangs the
  whole engine for every user until dockerd is killed. A container that joins
  another's namespace has no endpoint (the engine skips allocating and releasing its
  network), so job churn never enters that code; only the anchor, started once, does.
- ``init=True`` with ``TINI_KILL_PROCESS_GROUP=1``: PID 1 is the engine's tini, which
  forwards a signal to the job's whole process group, so ``kill(SIGTERM)`` ends
  ``sh -c 'sleep 1000'`` as it does a process group in the ``process`` runtime.
- The host's uid:gid, so files written to bind mounts belong to the director's user.
- ``workdir`` (and ``$MOONBASE_ARTIFACTS_DIR`` when it lies outside it) is bind-mounted
  at the same path and is the working directory: paths in the environment mean the
  same inside and outside.
- Environment: ``spec.env`` first, then the ``env`` argument on top. The host's
  environment is not inherited.
- Logs: a thread per container follows the engine's log stream (stdout and stderr)
  and appends it to ``log_path``; the follower holds an ``flock`` on the file. Each
  stream keeps its order, but the engine copies stdout and stderr separately, so their
  interleaving is not guaranteed (a job wanting one ordered stream runs ``2>&1``).
  ``log_path`` and the file's size at start are labels, so after a director restart the
  first :meth:`~DockerRuntime.poll` or :meth:`~DockerRuntime.remove` of a handle from
  :meth:`~DockerRuntime.list_owned` resumes following: the engine replays the whole
  log and the bytes already in the file are skipped. ``log_path`` belongs to the
  runtime while the container lives: nothing else may write to it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests

from target_api.director.images import DEFAULT_IMAGE, ImageBuildError, ensure_image
from target_api.director.runtimes.base import ContainerHandle, ContainerSpec
from target_api.exceptions import MoonbaseError

__all__ = [
    "DEFAULT_IMAGE",
    "LABEL_CONTAINER",
    "LABEL_LOG_OFFSET",
    "LABEL_LOG_PATH",
    "LABEL_OWNER",
    "LABEL_POD",
    "LABEL_ROLE",
    "HOST_NETWORK_ANCHOR",
    "DockerContainerGone",
    "DockerEngineUnavailable",
    "DockerImageMissing",
    "DockerRuntime",
    "DockerRuntimeError",
    "docker_available",
    "ensure_host_network_anchor",
]

LABEL_OWNER = "moonbase.owner"
LABEL_POD = "moonbase.pod"
LABEL_CONTAINER = "moonbase.container"
LABEL_LOG_PATH = "moonbase.log_path"
LABEL_LOG_OFFSET = "moonbase.log_offset"
LABEL_ROLE = "moonbase.role"
HOST_NETWORK_ANCHOR = "moonbase-host-network"  # container name, one per engine
_HANDLE_LABELS = (LABEL_CONTAINER, LABEL_LOG_OFFSET, LABEL_LOG_PATH, LABEL_OWNER, LABEL_POD)

# How long poll() waits, once the engine says a container has exited, for its log
# stream to drain into log_path: the stream ends right after the exit, so this bound
# only matters when the engine misbehaves, and poll must stay non-blocking then.
_LOG_DRAIN_ON_EXIT_S = 1.0
# How long remove()/close() wait for a follower to finish writing.
_LOG_DRAIN_ON_REMOVE_S = 5.0
# Engine call timeout; log streams are exempt (the SDK disables it on streams).
_API_TIMEOUT_S = 30

_DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

_log = logging.getLogger(__name__)


class DockerRuntimeError(MoonbaseError, RuntimeError):
    """Root of the docker runtime's errors."""


class DockerEngineUnavailable(DockerRuntimeError):
    """No Docker engine answers, or it went away during a call."""


class DockerImageMissing(DockerRuntimeError):
    """The image is not in the engine (this runtime never pulls)."""


class DockerContainerGone(DockerRuntimeError, LookupError):
    """The container of a handle no longer exists (removed, or never existed)."""


def docker_available(timeout_s: float = 2.0) -> bool:
    """True when a Docker engine (``DOCKER_HOST`` or the default socket) answers a ping
    within ``timeout_s`` seconds."""
    if _unix_socket_problem(timeout_s) is not None:
        return False
    try:
        # from_env negotiates the API version, which already talks to the engine.
        client = docker.from_env(timeout=max(1, round(timeout_s)))
    except (docker.errors.DockerException, requests.RequestException, OSError):
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.RequestException, OSError):
        return False
    finally:
        client.close()


def ensure_host_network_anchor(client: docker.DockerClient) -> str:
    """The id of the running host-network anchor container, created and started if
    needed; a container joins the host's network with ``network_mode="container:<id>"``.

    Safe to call from several threads and processes at once: a lost creation race
    shows as a name conflict and the winner's container is used.
    """
    for _ in range(5):  # create, start, confirm; twice that covers a lost race
        try:
            state = client.api.inspect_container(HOST_NETWORK_ANCHOR)
        except docker.errors.NotFound:
            ensure_image(client, DEFAULT_IMAGE)
            try:
                client.api.create_container(
                    DEFAULT_IMAGE,
                    command=["sleep", "2147483647"],  # ~68 years; ended by tini on stop
                    name=HOST_NETWORK_ANCHOR,
                    labels={LABEL_ROLE: "host-network-anchor"},
                    host_config=client.api.create_host_config(
                        network_mode="host",
                        init=True,
                        # back after an engine restart, so jobs can join it again
                        restart_policy={"Name": "unless-stopped"},
                    ),
                )
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: another process created it first
                    raise
            continue
        if state["HostConfig"].get("NetworkMode") != "host":
            raise DockerRuntimeError(
                f"container {HOST_NETWORK_ANCHOR!r} exists but is not on the host network "
                f"(network mode {state['HostConfig'].get('NetworkMode')!r}); remove it "
                "and it will be recreated"
            )
        if not state["State"]["Running"]:
            client.api.start(state["Id"])  # a no-op (304) if another process just did
            continue
        return str(state["Id"])
    raise DockerRuntimeError(
        f"the host-network anchor container {HOST_NETWORK_ANCHOR!r} did not stay running; "
        f"see `docker logs {HOST_NETWORK_ANCHOR}`"
    )


def _engine_location() -> str:
    return os.environ.get("DOCKER_HOST") or _DEFAULT_DOCKER_HOST


def _unix_socket_problem(timeout_s: float) -> str | None:
    """Why the engine's unix socket cannot be connected, or None if it can (or the
    engine is not behind a unix socket).

    Checked before the SDK connects because the SDK leaks the socket of a failed
    unix-socket connect (docker/transport/unixconn.py), a ResourceWarning."""
    location = _engine_location()
    if not location.startswith("unix://"):
        return None
    path = location.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout_s)
            probe.connect(path)
    except OSError as exc:
        return f"cannot connect to {path}: {exc.strerror or exc}"
    return None


@contextmanager
def _engine_errors(action: str) -> Iterator[None]:
    """Turn the SDK's and requests' exceptions into this module's."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise DockerRuntimeError(f"docker engine refused to {action}: {exc}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise DockerEngineUnavailable(
            f"docker engine at {_engine_location()} did not answer while trying to {action}: {exc}"
        ) from exc


class _LogFollower:
    """Appends one container's log stream to a file, in a daemon thread."""

    def __init__(self, stream: Any, log_file: IO[bytes], skip_bytes: int, name: str) -> None:
        self._stream = stream
        self._file = log_file
        self._skip = skip_bytes
        self._close_lock = threading.Lock()  # close() may come from two threads at once
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in self._stream:
                if self._skip:
                    # Replayed after a restart: these bytes are in the file already.
                    dropped = min(self._skip, len(chunk))
                    chunk = chunk[dropped:]
                    self._skip -= dropped
                if chunk:
                    self._file.write(chunk)
                    self._file.flush()
        except Exception:
            # Nothing above this thread could handle it; the container itself is
            # unaffected, and poll/remove report engine trouble on their own.
            _log.exception("following docker logs into %s failed", self._file.name)
        finally:
            self.cancel()
            self._file.close()  # also releases the flock
            self.done.set()

    def wait(self, timeout_s: float) -> bool:
        """Wait for the stream to end; True if it has."""
        return self.done.wait(timeout_s)

    def cancel(self) -> None:
        """Stop following now (the stream is closed; the thread ends soon after)."""
        with self._close_lock:
            self._stream.close()


class DockerRuntime:
    """Runs a pod's containers in a Docker engine; see the module docstring.

    Thread-safe: the SDK client is shared (its connection pool is), and the runtime's
    own state (the log followers) is guarded by a lock.
    """

    name = "docker"

    def __init__(
        self,
        owner: str,
        image: str = DEFAULT_IMAGE,
        client: docker.DockerClient | None = None,
    ) -> None:
        if not owner:
            raise ValueError(f"DockerRuntime owner {owner!r}: must be a non-empty string")
        self.owner = owner
        self.image = image
        self._owns_client = client is None
        if client is None:
            hint = "start one with .ci/setup-docker.sh, or use MOONBASE_RUNTIME=process"
            problem = _unix_socket_problem(_API_TIMEOUT_S)
            if problem is not None:
                raise DockerEngineUnavailable(
                    f"no docker engine answers at {_engine_location()} ({problem}); {hint}"
                )
            try:
                client = docker.from_env(timeout=_API_TIMEOUT_S)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise DockerEngineUnavailable(
                    f"no docker engine answers at {_engine_location()} ({exc}); {hint}"
                ) from exc
        self._client = client
        self._lock = threading.Lock()
        self._followers: dict[str, _LogFollower] = {}
        self._closed = False
        if image == DEFAULT_IMAGE:
            try:
                with _engine_errors(f"build the default image {image}"):
                    ensure_image(client, image)
            except ImageBuildError as exc:
                raise DockerImageMissing(str(exc)) from exc
        else:
            self._require_image(image, where="DockerRuntime(image=...)")

    # -- Runtime protocol ----------------------------------------------------------

    def start(
        self,
        pod_id: str,
        spec: ContainerSpec,
        *,
        env: dict[str, str],
        workdir: Path,
        log_path: Path,
    ) -> ContainerHandle:
        """Create and start the container, and begin following its logs."""
        if self._closed:
            raise DockerRuntimeError(
                f"DockerRuntime of owner {self.owner!r} is closed: it starts nothing more"
            )
        image = spec.image or self.image
        if spec.image:
            self._require_image(image, where=f"container {spec.name!r} of pod {pod_id!r}")
        workdir = workdir.resolve()
        log_path = log_path.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        log_offset = log_path.stat().st_size  # earlier attempts may share the file

        environment = {**dict(spec.env), **env}
        environment.setdefault("TINI_KILL_PROCESS_GROUP", "1")
        volumes = {str(workdir): {"bind": str(workdir), "mode": "rw"}}
        artifacts = environment.get("MOONBASE_ARTIFACTS_DIR")
        if artifacts:
            artifacts_dir = Path(artifacts).resolve()
            # Created here so it belongs to the host user, not to the engine's root.
            artifacts_dir.mkdir(parents=True, exist_ok=True)
            if not artifacts_dir.is_relative_to(workdir):
                volumes[str(artifacts_dir)] = {"bind": str(artifacts_dir), "mode": "rw"}
        labels = {
            LABEL_OWNER: self.owner,
            LABEL_POD: pod_id,
            LABEL_CONTAINER: spec.name,
            LABEL_LOG_PATH: str(log_path),
            LABEL_LOG_OFFSET: str(log_offset),
        }
        action = f"start container {spec.name!r} of pod {pod_id!r} from image {image!r}"
        with _engine_errors(action):
            try:
                # create + start rather than containers.run: run pulls a missing image,
                # and nothing may leave this host.
                container = self._client.containers.create(
                    image,
                    command=list(spec.command) or None,
                    environment=environment,
                    labels=labels,
                    network_mode=self._host_network_mode(),
                    init=True,
                    user=f"{os.getuid()}:{os.getgid()}",
                    working_dir=str(workdir),
                    volumes=volumes,
                )
            except docker.errors.ImageNotFound as exc:
                raise DockerImageMissing(
                    f"image {image!r} for {action} is not in the engine: {exc}"
                ) from exc
            try:
                container.start()
            except BaseException:
                self._client.api.remove_container(container.id, force=True)
                raise
        handle = ContainerHandle(
            runtime=self.name,
            pod_id=pod_id,
            container_name=spec.name,
            ref=str(container.id),
            labels=tuple(sorted(labels.items())),
        )
        self._follow(handle)
        return handle

    def poll(self, handle: ContainerHandle) -> int | None:
        """The exit code once the container has ended (and its log is in ``log_path``),
        else None. Raises :class:`DockerContainerGone` if it no longer exists."""
        with _engine_errors(f"inspect container {handle.ref[:12]}"):
            try:
                state = self._client.api.inspect_container(handle.ref)["State"]
            except docker.errors.NotFound as exc:
                raise DockerContainerGone(
                    f"container {handle.container_name!r} of pod {handle.pod_id!r} "
                    f"({handle.ref[:12]}) no longer exists"
                ) from exc
            try:
                follower = self._follow(handle)
            except docker.errors.NotFound as exc:
                raise DockerContainerGone(
                    f"container {handle.ref[:12]} was removed while being polled"
                ) from exc
        if state["Status"] not in ("exited", "dead"):
            return None
        if follower is not None:
            follower.wait(_LOG_DRAIN_ON_EXIT_S)
        return int(state["ExitCode"])

    def kill(self, handle: ContainerHandle, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the container (tini passes it to the job's process group).
        A container that has ended or is gone is left alone."""
        with _engine_errors(f"kill container {handle.ref[:12]}"):
            try:
                self._client.api.kill(handle.ref, signal=int(sig))
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # not running: nothing to signal
                    return
                raise

    def remove(self, handle: ContainerHandle) -> None:
        """Kill the container if it runs, let its log drain into ``log_path``, then
        remove it with its anonymous volumes. Idempotent."""
        with _engine_errors(f"remove container {handle.ref[:12]}"):
            try:
                follower = self._follow(handle)
            except docker.errors.NotFound:
                follower = None
            self.kill(handle)
            if follower is not None and not follower.wait(_LOG_DRAIN_ON_REMOVE_S):
                follower.cancel()
            try:
                self._client.api.remove_container(handle.ref, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: a removal is already in progress
                    raise
        with self._lock:
            self._followers.pop(handle.ref, None)

    def list_owned(self) -> list[ContainerHandle]:
        """Every container labelled with this owner, running or not, oldest first."""
        with _engine_errors(f"list the containers of owner {self.owner!r}"):
            found = self._client.api.containers(
                all=True, filters={"label": f"{LABEL_OWNER}={self.owner}"}
            )
        handles = []
        for summary in sorted(found, key=lambda item: item.get("Created", 0)):
            labels = summary.get("Labels") or {}
            if labels.get(LABEL_OWNER) != self.owner or LABEL_POD not in labels:
                continue
            handles.append(
                ContainerHandle(
                    runtime=self.name,
                    pod_id=labels[LABEL_POD],
                    container_name=labels.get(LABEL_CONTAINER, ""),
                    ref=str(summary["Id"]),
                    labels=tuple(
                        sorted((key, labels[key]) for key in _HANDLE_LABELS if key in labels)
                    ),
                )
            )
        return handles

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Stop following logs (containers keep running: a later runtime with the same
        owner resumes) and close the client if this runtime created it."""
        with self._lock:
            self._closed = True
            followers = list(self._followers.values())
            self._followers.clear()
        for follower in followers:
            follower.cancel()
        for follower in followers:
            follower.wait(_LOG_DRAIN_ON_REMOVE_S)
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DockerRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------

    def _host_network_mode(self) -> str:
        """``container:<anchor id>``, checking each time that the anchor runs (one
        inspect; it may have been stopped, or the engine restarted, since the last)."""
        return f"container:{ensure_host_network_anchor(self._client)}"

    def _require_image(self, image: str, *, where: str) -> None:
        with _engine_errors(f"look up image {image!r}"):
            try:
                self._client.images.get(image)
            except docker.errors.ImageNotFound as exc:
                raise DockerImageMissing(
                    f"image {image!r} from {where} is not in the docker engine, and this "
                    f"runtime never pulls: build or import it first (default image "
                    f"{DEFAULT_IMAGE!r} is built by `python -m target_api.director.images`)"
                ) from exc

    def _follow(self, handle: ContainerHandle) -> _LogFollower | None:
        """The log follower of ``handle``, started if there is none yet. None when the
        handle names no log file, or another follower (maybe in another process) still
        holds the file: then a later call tries again."""
        labels = dict(handle.labels)
        log_path = labels.get(LABEL_LOG_PATH)
        if not log_path:
            return None
        with self._lock:
            if self._closed:
                return None
            existing = self._followers.get(handle.ref)
            if existing is not None:
                return existing
            log_file = open(log_path, "ab")  # the follower's thread closes it
            try:
                fcntl.flock(log_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log_file.close()
                return None
            try:
                # Only now is the size final: whoever wrote before has let go.
                offset = int(labels.get(LABEL_LOG_OFFSET, "0"))
                skip = max(0, os.fstat(log_file.fileno()).st_size - offset)
                stream = self._client.api.logs(
                    handle.ref, stdout=True, stderr=True, stream=True, follow=True
                )
            except BaseException:
                log_file.close()
                raise
            follower = _LogFollower(stream, log_file, skip, f"docker-logs-{handle.ref[:12]}")
            self._followers[handle.ref] = follower
            follower.start()
            return follower
