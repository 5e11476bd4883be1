"""Pods: start a pod's stack, watch its containers, restart them by policy."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from target_api.director import lifecycle as lc
from target_api.director.jobs import INHERITED_ENV, poll_container, remove_container
from target_api.director.runtimes.base import ContainerHandle, ContainerSpec, Runtime
from target_api.metrics import ApiMetrics
from target_api.settings import Settings
from target_api.store import PodRecord, SqlStore

log = logging.getLogger("target_api.director")

MAX_RESTARTS = 10  # per container; then the pod fails instead of crash-looping forever
RESTART_BACKOFF_S = (0.1, 10.0)  # first delay, cap; doubled per restart


def canonical_stack(stack: dict[str, Any]) -> tuple[str, str]:
    """The stack as stored (canonical JSON) and its hash: equal stacks, equal hashes."""
    text = json.dumps(stack, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class _Container:
    spec: ContainerSpec
    port: int
    handle: ContainerHandle | None = None
    restarts: int = 0
    restart_at: float | None = None  # time.monotonic() of a pending restart
    exit_code: int | None = None  # of the last run; kept across a restart


@dataclass(slots=True)
class _Pod:
    record: PodRecord
    containers: dict[str, _Container] = field(default_factory=dict)


class PodSupervisor:
    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        runtime: Runtime,
        metrics: ApiMetrics,
        owner: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._runtime = runtime
        self._metrics = metrics
        self._owner = owner
        self._lock = threading.RLock()
        self._pods: dict[str, _Pod] = {}

    def _move(self, pod_id: str, to_state: str, *, restarted: bool = False) -> bool:
        return self._store.move_pod(
            pod_id, lc.sources_of(to_state), to_state, time.time(), restarted=restarted
        )

    def _env(self, pod: _Pod, container: _Container) -> dict[str, str]:
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update(container.spec.env)  # the stack's own env wins over what is inherited
        env.update(MOONBASE_PORT=str(container.port), MOONBASE_POD_NAME=pod.record.name)
        for peer in pod.containers.values():
            key = "".join(ch if ch.isalnum() else "_" for ch in peer.spec.name.upper())
            env[f"MOONBASE_PEER_{key}"] = f"127.0.0.1:{peer.port}"
        return env

    def _start(self, pod: _Pod, container: _Container) -> None:
        pod_dir = self._settings.data_dir / "pods" / pod.record.id
        container.handle = self._runtime.start(
            pod.record.id,
            container.spec,
            env=self._env(pod, container),
            workdir=pod_dir / "work",
            log_path=pod_dir / f"{container.spec.name}.log",
        )
        container.restart_at = None

    def launch(self, record: PodRecord) -> None:
        """Start every container of the pod's stack; the pod ends running or failed."""
        assert record.stack_json is not None
        stack = json.loads(record.stack_json)
        pod = _Pod(record)
        for c in stack["containers"]:
            spec = ContainerSpec(
                name=c["name"],
                command=tuple(c["command"]),
                env=tuple(sorted(c.get("env", {}).items())),
                image=c.get("image"),
            )
            pod.containers[spec.name] = _Container(spec, free_loopback_port())
        with self._lock:
            self._pods[record.id] = pod
            try:
                for container in pod.containers.values():
                    self._start(pod, container)
            except Exception:
                self._release(pod)
                del self._pods[record.id]
                self._move(record.id, lc.FAILED)
                raise
            # Still under the lock: a container that ends at once must find the pod
            # running, or the tick's "stopped" would lose to this "running".
            self._move(record.id, lc.RUNNING)

    def _release(self, pod: _Pod) -> None:
        for container in pod.containers.values():
            if container.handle is not None:
                remove_container(self._runtime, container.handle)
                container.handle = None

    def delete(self, pod_id: str) -> None:
        with self._lock:
            pod = self._pods.pop(pod_id, None)
        if pod is not None:
            self._release(pod)

    def poll(self) -> None:
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            with self._lock:
                if self._pods.get(pod.record.id) is not pod:
                    continue  # deleted meanwhile
                self._poll_pod(pod)

    def _poll_pod(self, pod: _Pod) -> None:
        now = time.monotonic()
        policy = pod.record.restart_policy
        for container in pod.containers.values():
            if container.handle is not None:
                code = poll_container(self._runtime, container.handle)
                if code is None:
                    continue
                remove_container(self._runtime, container.handle)
                container.handle = None
                container.exit_code = code
                if lc.should_restart(policy, code) and container.restarts < MAX_RESTARTS:
                    first, cap = RESTART_BACKOFF_S
                    container.restart_at = now + min(cap, first * 2**container.restarts)
                    self._move(pod.record.id, lc.RESTARTING)
            elif container.restart_at is not None and container.restart_at <= now:
                container.restarts += 1
                self._metrics.container_restarts.inc()
                try:
                    self._start(pod, container)
                except Exception as exc:  # the pod is judged below; the reason is logged
                    log.warning(
                        "restart %d of container %s in pod %s failed: %s: %s",
                        container.restarts,
                        container.spec.name,
                        pod.record.id,
                        type(exc).__name__,
                        exc,
                    )
                    container.restart_at = None
                    container.exit_code = 127
                    continue
                if all(c.restart_at is None for c in pod.containers.values()):
                    self._move(pod.record.id, lc.RUNNING, restarted=True)
        if all(c.handle is None and c.restart_at is None for c in pod.containers.values()):
            clean = all(c.exit_code == 0 for c in pod.containers.values())
            self._move(pod.record.id, lc.STOPPED if clean else lc.FAILED)
            del self._pods[pod.record.id]

    def describe(self, pod_id: str) -> list[dict[str, Any]]:
        with self._lock:
            pod = self._pods.get(pod_id)
            if pod is None:
                return []
            return [
                {
                    "name": c.spec.name,
                    "state": "running"
                    if c.handle
                    else ("restarting" if c.restart_at else "exited"),
                    "restarts": c.restarts,
                    "exit_code": c.exit_code,
                    "port": c.port,
                    # where the running container is, for operators and chaos tooling:
                    # process runtime: its pid (= its process group); docker: container id
                    "runtime": c.handle.runtime if c.handle else self._runtime.name,
                    "ref": c.handle.ref if c.handle else None,
                }
                for c in pod.containers.values()
            ]

    def port_of(self, pod_id: str, container_name: str) -> int | None:
        with self._lock:
            pod = self._pods.get(pod_id)
            container = pod.containers.get(container_name) if pod else None
            return container.port if container and container.handle else None

    def reconcile(self, leftovers: dict[str, list[ContainerHandle]]) -> int:
        """After a restart: pods this director ran are started again from their stack;
        half-deleted ones are finished off."""
        repaired = 0
        for record in self._store.list_pods([*lc.ACTIVE_POD_STATES, lc.DELETING]):
            if record.owner != self._owner:
                continue
            for handle in leftovers.pop(record.id, []):
                remove_container(self._runtime, handle)
            if record.state == lc.DELETING:
                self._store.delete_pod(record.id)
            elif self._move(record.id, lc.STARTING):
                try:
                    self.launch(record)
                except Exception:  # launch marked it failed; the others still get their turn
                    log.exception("relaunching pod %s after a restart of the API failed", record.id)
            repaired += 1
        return repaired

    def stop(self) -> None:
        with self._lock:
            pods, self._pods = list(self._pods.values()), {}
        for pod in pods:
            self._release(pod)

    @property
    def pod_count(self) -> int:
        with self._lock:
            return len(self._pods)
