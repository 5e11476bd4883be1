"""``noop``: passes everything through; Toxiproxy registers it, so clients may create it."""

from __future__ import annotations

from dataclasses import dataclass

from harness.toxiproxy.embedded.toxics.base import BaseStage, ToxicAttributes
from harness.toxiproxy.embedded.toxics.registry import register


@dataclass(frozen=True, slots=True)
class NoopAttributes(ToxicAttributes):
    """No attributes."""


class NoopStage(BaseStage[NoopAttributes]):
    """Every chunk goes on unchanged (the inherited ``pipe``)."""

    __slots__ = ()


register("noop", NoopAttributes, NoopStage)
