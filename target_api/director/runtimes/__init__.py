"""JobDirector runtimes behind one Protocol; ``make_runtime`` picks one by name."""

from __future__ import annotations

from target_api.director.runtimes.base import ContainerHandle, ContainerSpec, Runtime

__all__ = ["ContainerHandle", "ContainerSpec", "Runtime", "make_runtime"]


def make_runtime(name: str, *, owner: str, reap_orphans: bool = False) -> Runtime:
    """The runtime called ``name`` ("process" or "docker"), labelling what it starts
    with ``owner`` so that a restarted director finds its own containers."""
    if name == "process":
        from target_api.director.runtimes.process import ProcessRuntime

        return ProcessRuntime(owner, reap_orphans=reap_orphans)
    if name == "docker":
        from target_api.director.runtimes.docker import DockerRuntime

        return DockerRuntime(owner=owner)
    raise ValueError(f"unknown runtime {name!r}: valid are process, docker")
