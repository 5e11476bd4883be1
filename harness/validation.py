"""Helpers for validation messages: what a user may write where they wrote something else."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["allowed_fields", "too_deep"]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside list[...], X | None,
    Annotated[...] and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names valid at ``loc`` (the location of an unknown field in ``model``),
    looking through lists and optional values; empty when the path cannot be followed."""
    current: list[type[BaseModel]] = [model]
    for part in loc[:-1]:
        if isinstance(part, int):  # an index into a list: the same models
            continue
        following = [
            nested
            for candidate in current
            if (field := candidate.model_fields.get(str(part))) is not None
            for nested in _models_in(field.annotation)
        ]
        if not following:
            return []
        current = following
    return sorted({name for candidate in current for name in candidate.model_fields})


def too_deep(node: Any, limit: int, at: str = "") -> str | None:
    """The first dotted field of a loaded file nested in more than ``limit`` tables or
    arrays, else None: far deeper is no config, and copying or quoting it would exhaust
    the interpreter's recursion limit."""
    for key, child in node.items() if isinstance(node, dict) else enumerate(node):
        here = f"{at}.{key}" if at else str(key)
        if isinstance(child, dict | list):
            found = here if limit == 0 else too_deep(child, limit - 1, here)
            if found:
                return found
    return None
