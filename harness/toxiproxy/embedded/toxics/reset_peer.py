"""``reset_peer``: on the first data, wait ``timeout`` ms, then reset the connection (RST)."""

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
class ResetPeerAttributes(ToxicAttributes):
    """Timeout in milliseconds; 0 resets as soon as data arrives."""

    timeout: int = 0


class ResetPeerStage(BaseStage[ResetPeerAttributes]):
    """Drop the triggering chunk and abort both sides with SO_LINGER 0."""

    __slots__ = ()

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Wait the timeout, then reset; a removal during the wait cancels the reset."""
        if await self.sleep(self.attributes.timeout / 1000.0) and self.active:
            link.reset()


register("reset_peer", ResetPeerAttributes, ResetPeerStage)
