"""Toxics of the embedded Toxiproxy: one module per kind, registered by name on import."""

from __future__ import annotations

from harness.toxiproxy.embedded.toxics import (  # noqa: F401 - imported to register the kinds
    bandwidth,
    latency,
    limit_data,
    noop,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)
from harness.toxiproxy.embedded.toxics.base import (
    BaseStage,
    Chunk,
    Emit,
    LinkControl,
    ToxicAttributes,
    ToxicStage,
)
from harness.toxiproxy.embedded.toxics.registry import (
    InvalidAttribute,
    ToxicKind,
    attributes_json,
    get_kind,
    kind_names,
    parse_attributes,
    register,
)

__all__ = [
    "BaseStage",
    "Chunk",
    "Emit",
    "InvalidAttribute",
    "LinkControl",
    "ToxicAttributes",
    "ToxicKind",
    "ToxicStage",
    "attributes_json",
    "get_kind",
    "kind_names",
    "parse_attributes",
    "register",
]
