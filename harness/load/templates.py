"""Request templates: ``/items/{id}`` with ``id`` drawn from a list, a range or a CSV column.

A load file's request may name placeholders in its ``path``, its ``body`` and the string
values of its ``json`` body; each placeholder has a source in ``[requests.values]``:

- ``id = [1, 2, 3]`` or ``sku = ["a", "b"]``: a list;
- ``id = { range = [1, 100] }``: the integers 1 to 100, both included;
- ``id = { csv = "ids.csv", column = "id" }``: a column of a CSV file (read once, when the
  load file is read; relative to the load file's directory).

A placeholder is a name in braces, ``{id}`` (letters, digits and ``_``, not starting with
a digit); any other brace is literal, so a JSON text in a ``body`` string
(``{"name": "p1"}``) is sent as written. Each request draws one value per placeholder,
uniformly, from its user's seeded random generator (so a run is reproducible). In the path a
value is URL-quoted; a JSON string that is exactly ``"{id}"`` becomes the value itself (an
integer stays an integer); any other string has its placeholders replaced as text.
Pure: no I/O (the CSV is read by :mod:`harness.load.load_file`).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = [
    "MAX_VALUES",
    "Value",
    "ValueSource",
    "draw_all",
    "json_placeholders",
    "placeholders",
    "render_json",
    "render_text",
]

# a list or CSV column longer than this is refused: the spec crosses to Locust as JSON
MAX_VALUES = 100_000

Value = str | int

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ValueSource:
    """Where one placeholder's values come from: ``items``, or the range ``low..high``."""

    name: str
    items: tuple[Value, ...] = ()
    low: int | None = None
    high: int | None = None

    def draw(self, rng: random.Random) -> Value:
        if self.low is not None and self.high is not None:
            return rng.randint(self.low, self.high)
        return self.items[rng.randrange(len(self.items))]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "items": list(self.items), "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ValueSource:
        return cls(
            name=str(data["name"]),
            items=tuple(data["items"]),
            low=None if data["low"] is None else int(data["low"]),
            high=None if data["high"] is None else int(data["high"]),
        )


def placeholders(text: str) -> set[str]:
    """The placeholder names in ``text`` (``/items/{id}`` -> ``{"id"}``)."""
    return set(_PLACEHOLDER.findall(text))


def json_placeholders(obj: Any) -> set[str]:
    """Every placeholder in the string values (and keys) of a JSON value."""
    if isinstance(obj, str):
        return placeholders(obj)
    if isinstance(obj, Mapping):
        return set().union(*(placeholders(str(k)) | json_placeholders(v) for k, v in obj.items()))
    if isinstance(obj, list):
        return set().union(*(json_placeholders(v) for v in obj))
    return set()


def render_text(template: str, drawn: Mapping[str, Value], *, url: bool = False) -> str:
    """``template`` with its placeholders replaced (URL-quoted when ``url``)."""
    if not drawn:
        return template

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in drawn:
            return match.group(0)  # not a placeholder of this request: literal
        return quote(str(drawn[name]), safe="") if url else str(drawn[name])

    return _PLACEHOLDER.sub(value, template)


def _render(obj: Any, drawn: Mapping[str, Value]) -> Any:
    if isinstance(obj, str):
        whole = _PLACEHOLDER.fullmatch(obj)
        if whole is not None and whole.group(1) in drawn:
            return drawn[whole.group(1)]  # exactly "{id}": the value, typed
        return render_text(obj, drawn)
    if isinstance(obj, Mapping):
        return {render_text(str(k), drawn): _render(v, drawn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_render(v, drawn) for v in obj]
    return obj


def render_json(template: Any, drawn: Mapping[str, Value]) -> str:
    """The JSON text of ``template`` (a parsed JSON value) with the drawn values in it."""
    return json.dumps(_render(template, drawn) if drawn else template, separators=(",", ":"))


def draw_all(sources: Iterable[ValueSource], rng: random.Random) -> dict[str, Value]:
    """One value per source."""
    return {s.name: s.draw(rng) for s in sources}
