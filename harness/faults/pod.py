"""The pod a ``kill_container`` experiment kills: made through the API, killed from outside.

The experiment creates a pod with one long-running container (``[pod]`` in the file),
waits until it runs, and per injection kills that container the way an OOM kill would:
not through the API, but by signalling its process group (process runtime) or the
container itself (docker runtime). Where the container is comes from the pod's JSON
(``containers[].runtime`` and ``ref``), and is checked before any signal: a process must
lead its own group and carry the pod's id in its environment, a docker container must
carry the pod's label. Nothing else is ever signalled.

Healthy, for the probes: the pod answers 200, is ``running``, and its container runs
again with a restart count at least one past the count it had when it was killed.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

from harness.errors import InfrastructureError, UnsafeTargetError
from harness.faults.spec import PodSpec

__all__ = [
    "ContainerView",
    "PodInjection",
    "PodRecord",
    "PodUnderTest",
    "kill_docker_container",
    "kill_process_group",
]

# The names target_api's runtimes mark a container with (target_api/director/runtimes/):
# process.py puts POD_ENV/CONTAINER_ENV in the environment, docker.py sets POD_LABEL.
POD_ENV = "MOONBASE_POD_ID"
CONTAINER_ENV = "MOONBASE_CONTAINER"
POD_LABEL = "moonbase.pod"
CONTAINER_NAME = "main"
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class ContainerView:
    """The pod and its one container as a probe saw them."""

    pod_state: str
    state: str
    restarts: int
    runtime: str
    ref: str | None

    @classmethod
    def of(cls, body: Any) -> ContainerView | None:
        """From a pod's JSON; None when it lacks the container or its fields."""
        if not isinstance(body, dict):
            return None
        containers = body.get("containers")
        if not isinstance(containers, list) or not containers:
            return None
        c = containers[0]
        if not isinstance(c, dict) or not isinstance(c.get("restarts"), int):
            return None
        ref = c.get("ref")
        return cls(
            pod_state=str(body.get("state")),
            state=str(c.get("state")),
            restarts=int(c["restarts"]),
            runtime=str(c.get("runtime")),
            ref=None if ref is None else str(ref),
        )

    @property
    def running(self) -> bool:
        return self.pod_state == "running" and self.state == "running" and self.ref is not None


def kill_process_group(pod_id: str, container: str, ref: str, sig: signal.Signals) -> None:
    """Signal the process group of a process-runtime container, after checking it is one.

    ``ref`` is the container's pid, which leads its own group; the process must carry the
    pod's id and the container's name in its environment, as the runtime sets them.
    """
    where = f"container {container!r} of pod {pod_id}"
    try:
        pid = int(ref)
        process = psutil.Process(pid)
        env = process.environ()
        pgid = os.getpgid(pid)
    except ValueError:
        raise InfrastructureError(f"{where}: ref {ref!r} is not a pid") from None
    except (psutil.NoSuchProcess, ProcessLookupError):
        raise InfrastructureError(f"{where}: process {ref} was gone before the kill") from None
    except psutil.AccessDenied as exc:
        raise InfrastructureError(f"{where}: cannot inspect process {ref}: {exc}") from None
    if pgid != pid or env.get(POD_ENV) != pod_id or env.get(CONTAINER_ENV) != container:
        raise UnsafeTargetError(
            f"refusing to signal process {pid} for {where}: it is not that container "
            f"(process group {pgid}, {POD_ENV}={env.get(POD_ENV)!r}, "
            f"{CONTAINER_ENV}={env.get(CONTAINER_ENV)!r})"
        )
    os.killpg(pgid, sig)


def kill_docker_container(pod_id: str, ref: str, sig: signal.Signals) -> None:
    """Signal a docker-runtime container through the engine, after checking its pod label."""
    import docker
    import docker.errors

    where = f"docker container {ref[:12]} of pod {pod_id}"
    try:
        client = docker.from_env(timeout=30)
    except docker.errors.DockerException as exc:
        raise InfrastructureError(f"{where}: no Docker engine: {exc}") from exc
    try:
        container = client.containers.get(ref)
        label = container.labels.get(POD_LABEL)
        if label != pod_id:
            raise UnsafeTargetError(
                f"refusing to signal {where}: its {POD_LABEL} label is {label!r}"
            )
        container.kill(signal=int(sig))
    except docker.errors.DockerException as exc:
        raise InfrastructureError(f"{where}: the engine refused the kill: {exc}") from exc
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class PodInjection:
    """What one kill did to the pod's container: the one killed, the one that answered."""

    index: int
    killed_ref: str | None
    restarts_before: int | None
    restarts_after: int | None
    ref_after: str | None
    state_after: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "killed_ref": self.killed_ref,
            "restarts_before": self.restarts_before,
            "restarts_after": self.restarts_after,
            "ref_after": self.ref_after,
            "state_after": self.state_after,
        }


@dataclass(frozen=True, slots=True)
class PodRecord:
    """The pod of a ``kill_container`` experiment as it ended: its restarts seen per kill."""

    id: str
    name: str
    runtime: str
    command: tuple[str, ...]
    restart_policy: str
    restarts: int | None
    injections: tuple[PodInjection, ...]
    deleted: bool

    @property
    def restarts_seen(self) -> tuple[int | None, ...]:
        return tuple(i.restarts_after for i in self.injections)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "runtime": self.runtime,
            "command": list(self.command),
            "restart_policy": self.restart_policy,
            "restarts": self.restarts,
            "restarts_seen": list(self.restarts_seen),
            "injections": [i.to_json() for i in self.injections],
            "deleted": self.deleted,
        }


class PodUnderTest:
    """One pod of one experiment: created, judged by the probes, killed, always deleted."""

    def __init__(
        self,
        base_url: str,
        token: str,
        spec: PodSpec,
        name: str,
        *,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.spec = spec
        self.name = name
        self.id = ""
        self.runtime = ""
        self._ready_timeout_s = ready_timeout_s
        self._client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        )
        self._baseline = 0  # restarts a healthy container must have reached
        self._last: ContainerView | None = None
        self._killed: ContainerView | None = None
        self.effect_at: float | None = None  # time.monotonic() the current kill was seen
        self.injections: list[PodInjection] = []
        self.deleted = False

    @property
    def path(self) -> str:
        return f"/api/v0/pods/{self.id}"

    def create(self) -> None:
        """Create the pod and wait until its container runs (InfrastructureError if not)."""
        stack = {
            "name": f"{self.name}-stack",
            "containers": [{"name": CONTAINER_NAME, "command": list(self.spec.command)}],
        }
        body = {"name": self.name, "restart_policy": self.spec.restart_policy, "stack": stack}
        try:
            # the API starts the stack before it answers: a docker image may be built first
            response = self._client.post("/api/v0/pods", json=body, timeout=120.0)
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"pod {self.name!r} not created: {exc}") from exc
        if response.status_code != 201:
            raise InfrastructureError(
                f"pod {self.name!r} not created: HTTP {response.status_code} {response.text}"
            )
        self.id = str(response.json()["id"])
        deadline = time.monotonic() + self._ready_timeout_s
        view = ContainerView.of(response.json())
        while view is None or not view.running:
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"pod {self.id} did not run within {self._ready_timeout_s} s "
                    f"(last seen: {view})"
                )
            time.sleep(_POLL_INTERVAL_S)  # polling interval, bounded by the deadline
            view = ContainerView.of(self._client.get(self.path).json())
        self.runtime = view.runtime
        self._baseline = view.restarts
        self._last = view

    def judge(self, response: httpx.Response) -> bool:
        """The probe's verdict on one answer; also notes when a kill became visible."""
        if response.status_code != 200:
            return False
        view = ContainerView.of(response.json())
        if view is None:
            return False
        self._last = view
        killed = self._killed
        if (
            killed is not None
            and self.effect_at is None
            and (not view.running or view.restarts > killed.restarts or view.ref != killed.ref)
        ):
            self.effect_at = time.monotonic()
        return view.running and view.restarts >= self._baseline

    def kill(self, sig: signal.Signals) -> None:
        """Kill the running container from outside the API, as an OOM kill would."""
        view = ContainerView.of(self._client.get(self.path).json())
        if view is None or not view.running or view.ref is None:
            raise InfrastructureError(f"pod {self.id}: no running container to kill ({view})")
        self._killed, self.effect_at = view, None
        self._baseline = view.restarts + 1
        if view.runtime == "process":
            kill_process_group(self.id, CONTAINER_NAME, view.ref, sig)
        elif view.runtime == "docker":
            kill_docker_container(self.id, view.ref, sig)
        else:
            raise InfrastructureError(f"pod {self.id}: unknown runtime {view.runtime!r}")

    def end_injection(self, index: int) -> None:
        """Record what this injection did to the container: the restarts seen."""
        killed, last = self._killed, self._last
        self.injections.append(
            PodInjection(
                index=index,
                killed_ref=killed.ref if killed else None,
                restarts_before=killed.restarts if killed else None,
                restarts_after=last.restarts if last else None,
                ref_after=last.ref if last else None,
                state_after=last.state if last else None,
            )
        )
        self._killed = None

    def delete(self, deadline_s: float = 15.0) -> None:
        """Delete the pod and wait until the API no longer knows it (InfrastructureError)."""
        try:
            if self.id:
                response = self._client.delete(self.path)
                if response.status_code not in (200, 202, 204, 404):
                    raise InfrastructureError(
                        f"pod {self.id} not deleted: HTTP {response.status_code} {response.text}"
                    )
                end = time.monotonic() + deadline_s
                while self._client.get(self.path).status_code != 404:
                    if time.monotonic() > end:
                        raise InfrastructureError(f"pod {self.id} still there after {deadline_s} s")
                    time.sleep(_POLL_INTERVAL_S)  # polling interval, bounded by the deadline
                self.deleted = True
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"pod {self.id} not deleted: {exc}") from exc
        finally:
            self._client.close()

    def record(self) -> PodRecord:
        """The pod as it is now, as a frozen value."""
        injections = tuple(self.injections)
        restarts = (
            injections[-1].restarts_after
            if injections
            else (self._last.restarts if self._last else 0)
        )
        return PodRecord(
            id=self.id,
            name=self.name,
            runtime=self.runtime,
            command=tuple(self.spec.command),
            restart_policy=self.spec.restart_policy,
            restarts=restarts,
            injections=injections,
            deleted=self.deleted,
        )
