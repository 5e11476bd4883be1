"""Fault injectors (toxics, process signals, container kills), the supervisor that restarts
the reference API after a kill, and the pod a container-kill experiment kills. Import the
modules themselves; this package re-exports nothing."""

__all__: list[str] = []
