"""The built-in fault kinds, and which one an experiment's method is.

Importing this module registers them all (each module registers itself on import).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.faults import container_kill, kill, pause, toxic
from harness.faults.base import FaultKind, registered
from harness.faults.spec import FaultSpec

__all__ = ["fault_kind", "kind_name"]

# imported for their registrations: toxic, database_toxic, kill, pause, kill_container
_BUILTIN_MODULES = (container_kill, kill, pause, toxic)


def kind_name(method: Sequence[FaultSpec]) -> str:
    """The kind an experiment's method is: its process fault's type (``kill``, ``pause``,
    ``kill_container``), else ``toxic`` or ``database_toxic`` by the link."""
    first = method[0]
    if first.kind == "process":
        return first.type
    return "database_toxic" if first.link == "database" else "toxic"


def fault_kind(method: Sequence[FaultSpec]) -> FaultKind:
    name = kind_name(method)
    kinds = registered()
    try:
        return kinds[name]
    except KeyError:
        raise LookupError(
            f"no fault kind {name!r} is registered; registered: {', '.join(sorted(kinds))}"
        ) from None
