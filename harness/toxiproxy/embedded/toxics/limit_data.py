"""``limit_data``: pass the first ``bytes`` bytes of the connection, then close it."""

from __future__ import annotations

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
class LimitDataAttributes(ToxicAttributes):
    """Number of bytes to let through in this direction of each connection."""

    bytes: int = 0


class LimitDataStage(BaseStage[LimitDataAttributes]):
    """Counts bytes per connection; the count survives updates, as Toxiproxy's stub state."""

    __slots__ = ("transmitted",)

    def __init__(self, attributes: LimitDataAttributes) -> None:
        super().__init__(attributes)
        self.transmitted = 0

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Emit what still fits under the limit; close once the limit is reached."""
        remaining = max(self.attributes.bytes - self.transmitted, 0)
        data = chunk.data[:remaining]
        if data:
            self.transmitted += len(data)
            await emit(Chunk(data, chunk.timestamp))
        if self.attributes.bytes - self.transmitted <= 0:
            link.close()


register("limit_data", LimitDataAttributes, LimitDataStage)
