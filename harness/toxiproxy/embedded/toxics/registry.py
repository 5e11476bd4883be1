"""Toxic kinds registered by name, as Toxiproxy's ``toxics.Register("latency", ...)``.

Registration checks the kind completely (attributes are a frozen dataclass of ``int``
fields with defaults; the stage has the coroutine methods of :class:`ToxicStage`), so a
broken toxic fails at import, not at the first connection that meets it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.toxiproxy.embedded.toxics.base import ToxicAttributes, ToxicStage

__all__ = [
    "InvalidAttribute",
    "ToxicKind",
    "attributes_json",
    "get_kind",
    "kind_names",
    "parse_attributes",
    "register",
]


class InvalidAttribute(HarnessError, ValueError):
    """An attribute in a toxic's JSON is unknown or not an integer; the API answers 400."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ToxicKind:
    """A registered toxic: its name, its attributes class and the stage factory."""

    name: str
    attributes: type[ToxicAttributes]
    stage: Callable[[Any], ToxicStage]

    def attribute_names(self) -> tuple[str, ...]:
        """The attribute names in Toxiproxy's JSON order."""
        return tuple(field.name for field in dataclasses.fields(self.attributes))

    def defaults(self) -> ToxicAttributes:
        """The attributes a toxic of this kind has when none are given."""
        return self.attributes()

    def new_stage(self, attributes: ToxicAttributes) -> ToxicStage:
        """One stage of this kind for one direction of one connection."""
        return self.stage(attributes)


_REGISTRY: dict[str, ToxicKind] = {}
_STAGE_COROUTINES = ("pipe", "finish")
_STAGE_METHODS = ("start", "stop", "remove", "reconfigure")


def register(name: str, attributes: type[ToxicAttributes], stage: type[Any]) -> ToxicKind:
    """Register a toxic kind under ``name``; raise ``TypeError`` if it is malformed."""
    if name in _REGISTRY:
        raise TypeError(f"toxic kind {name!r} is already registered")
    if not (dataclasses.is_dataclass(attributes) and issubclass(attributes, ToxicAttributes)):
        raise TypeError(f"toxic {name!r}: attributes {attributes!r} must be a ToxicAttributes")
    for field in dataclasses.fields(attributes):
        if field.type not in (int, "int") or field.default is dataclasses.MISSING:
            raise TypeError(
                f"toxic {name!r}: attribute {field.name!r} must be 'int' with a default, "
                f"got {field.type!r}"
            )
    for method in _STAGE_COROUTINES + _STAGE_METHODS:
        if not callable(getattr(stage, method, None)):
            raise TypeError(f"toxic {name!r}: stage {stage.__name__} lacks {method}()")
    for method in _STAGE_COROUTINES:
        if not inspect.iscoroutinefunction(getattr(stage, method)):
            raise TypeError(f"toxic {name!r}: {stage.__name__}.{method} must be async")
    inspect.signature(stage.pipe).bind(None, None, None, None)  # self, chunk, emit, link
    inspect.signature(stage.finish).bind(None, None)  # self, link
    kind = ToxicKind(name=name, attributes=attributes, stage=stage)
    _REGISTRY[name] = kind
    return kind


def get_kind(name: str) -> ToxicKind | None:
    """The kind registered as ``name``, or ``None``."""
    return _REGISTRY.get(name)


def kind_names() -> tuple[str, ...]:
    """Every registered kind, sorted."""
    return tuple(sorted(_REGISTRY))


def parse_attributes(
    kind: ToxicKind, raw: object, base: ToxicAttributes | None = None
) -> ToxicAttributes:
    """Merge JSON ``raw`` attributes onto ``base`` (or the defaults) for ``kind``.

    Unlike Toxiproxy, which silently ignores attribute names it does not know, an unknown
    name is an error: a typo such as ``latency_ms`` would otherwise inject no fault at all.
    """
    current = base if base is not None else kind.defaults()
    if raw is None:
        return current
    if not isinstance(raw, Mapping):
        raise InvalidAttribute(
            f"attributes of toxic type {kind.name!r} must be a JSON object, got {raw!r}"
        )
    valid = kind.attribute_names()
    changes: dict[str, int] = {}
    for key, value in raw.items():
        # Go's encoding/json matches a field by its name in any case ("Latency")
        field = key if key in valid else key.lower()
        if field not in valid:
            raise InvalidAttribute(
                f"unknown attribute {key!r} for toxic type {kind.name!r}; "
                f"valid attributes: {', '.join(valid)}"
            )
        if value is None:
            continue  # null leaves a Go field as it was
        # bool is an int in Python but not in Toxiproxy's Go structs (int64 fields)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAttribute(
                f"attribute {key!r} of toxic type {kind.name!r} must be an integer, got {value!r}"
            )
        if not -(2**63) <= value < 2**63:
            raise InvalidAttribute(
                f"attribute {key!r} of toxic type {kind.name!r} must fit a 64-bit integer "
                f"(Toxiproxy's int64), got {value}"
            )
        changes[field] = value
    return dataclasses.replace(current, **changes)


def attributes_json(attributes: ToxicAttributes) -> dict[str, int]:
    """The attributes as Toxiproxy renders them, in declaration order."""
    return {field.name: getattr(attributes, field.name) for field in dataclasses.fields(attributes)}
