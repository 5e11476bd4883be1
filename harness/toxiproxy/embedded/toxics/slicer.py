"""``slicer``: cut chunks into pieces of about ``average_size`` bytes, ``delay`` us apart."""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.toxiproxy.embedded.toxics.base import (
    BaseStage,
    Chunk,
    Emit,
    LinkControl,
    ToxicAttributes,
)
from harness.toxiproxy.embedded.toxics.registry import register


@dataclass(frozen=True, slots=True)
class SlicerAttributes(ToxicAttributes):
    """Sizes in bytes; ``delay`` in microseconds between pieces."""

    average_size: int = 0
    size_variation: int = 0
    delay: int = 0


def slice_bounds(size: int, average_size: int, size_variation: int) -> list[tuple[int, int]]:
    """Split ``[0, size)`` into pieces, halving (with jitter) until each is near the average.

    Same rule as Toxiproxy's recursive ``chunk``, done with a stack; a piece is never empty,
    and ``average_size <= 0`` leaves the data whole (Toxiproxy would recurse forever).
    """
    if average_size <= 0 or size <= 0:
        return [(0, size)]
    pieces: list[tuple[int, int]] = []
    stack = [(0, size)]
    while stack:
        start, end = stack.pop()
        if (end - start) - average_size <= size_variation or end - start < 2:
            pieces.append((start, end))
            continue
        mid = start + (end - start) // 2
        if size_variation > 0:
            mid += random.randrange(2 * size_variation) - size_variation
        mid = min(max(mid, start + 1), end - 1)  # keep both halves non-empty
        stack.append((mid, end))
        stack.append((start, mid))
    return pieces


class SlicerStage(BaseStage[SlicerAttributes]):
    """Emit the pieces in order; every byte is delivered."""

    __slots__ = ()

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Send each piece, pausing ``delay`` us between them; an interrupt sends the rest."""
        attrs = self.attributes
        bounds = slice_bounds(len(chunk.data), attrs.average_size, attrs.size_variation)
        for index, (start, end) in enumerate(bounds):
            await emit(Chunk(chunk.data[start:end], chunk.timestamp))
            if index + 1 < len(bounds) and not await self.sleep(attrs.delay / 1_000_000):
                await emit(Chunk(chunk.data[end:], chunk.timestamp))
                return


register("slicer", SlicerAttributes, SlicerStage)
