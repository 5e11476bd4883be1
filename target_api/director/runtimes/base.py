"""The interface every JobDirector runtime implements.

A runtime runs the containers of a pod's stack: ``process`` (local processes, each in
its own process group) and ``docker`` (containers through the docker SDK, host network).
The director only ever talks to this Protocol.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container of a stack, as the API received it."""

    name: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    image: str | None = None  # docker runtime only; None means the runtime's default image


@dataclass(frozen=True, slots=True)
class ContainerHandle:
    """What a runtime needs to find a container again, also after an API restart."""

    runtime: str  # "process" or "docker"
    pod_id: str
    container_name: str
    ref: str  # process: the pid (= pgid) as text; docker: the container id
    labels: tuple[tuple[str, str], ...] = field(default=())


@runtime_checkable
class Runtime(Protocol):
    """Runs, watches and kills containers. Implementations must be thread-safe."""

    name: str

    def start(
        self,
        pod_id: str,
        spec: ContainerSpec,
        *,
        env: dict[str, str],
        workdir: Path,
        log_path: Path,
    ) -> ContainerHandle:
        """Start one container; stdout and stderr go to ``log_path``."""
        ...

    def poll(self, handle: ContainerHandle) -> int | None:
        """The exit code if the container has ended, else None. Never blocks."""
        ...

    def kill(self, handle: ContainerHandle, sig: int = signal.SIGKILL) -> None:
        """Signal the whole container: its process group, or the docker container."""
        ...

    def remove(self, handle: ContainerHandle) -> None:
        """Kill if needed and release everything the container held; idempotent."""
        ...

    def list_owned(self) -> list[ContainerHandle]:
        """Every container this runtime started and has not removed, found from the
        outside world (process table, docker labels), so that a restarted director
        can reconcile what it left running."""
        ...
