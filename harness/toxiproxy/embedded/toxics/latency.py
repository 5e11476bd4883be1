"""``latency``: every chunk waits ``latency`` ms, plus or minus up to ``jitter`` ms."""

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
class LatencyAttributes(ToxicAttributes):
    """Times in milliseconds, as Toxiproxy."""

    latency: int = 0
    jitter: int = 0


class LatencyStage(BaseStage[LatencyAttributes]):
    """Delay each chunk relative to when it was read, so queued chunks are not delayed twice."""

    __slots__ = ()

    def delay_s(self) -> float:
        """This chunk's delay: latency +/- jitter, drawn as Toxiproxy does (Int63n(2j) - j)."""
        delay_ms = self.attributes.latency
        jitter_ms = self.attributes.jitter
        if jitter_ms > 0:
            delay_ms += random.randrange(2 * jitter_ms) - jitter_ms
        return delay_ms / 1000.0

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Wait out the rest of the delay, then pass the chunk on; an interrupt skips the wait."""
        wait_s = self.delay_s() - (link.now() - chunk.timestamp)
        if wait_s > 0:
            await self.sleep(wait_s)
            chunk.timestamp += wait_s
        await emit(chunk)


register("latency", LatencyAttributes, LatencyStage)
