"""``bandwidth``: limit throughput to ``rate`` KB/s (1 KB = 1000 bytes, as Toxiproxy)."""

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

# Toxiproxy sends large chunks as slices of 100 ms worth of bytes, one slice per 100 ms
_SLICE_S = 0.1


@dataclass(frozen=True, slots=True)
class BandwidthAttributes(ToxicAttributes):
    """Rate in KB/s; 0 means unlimited."""

    rate: int = 0


class BandwidthStage(BaseStage[BandwidthAttributes]):
    """Pace chunks so the average rate is ``rate`` KB/s, carrying timing error forward."""

    __slots__ = ("_debt_s",)

    def __init__(self, attributes: BandwidthAttributes) -> None:
        super().__init__(attributes)
        # seconds of sending time owed; carried over chunks so timer slack is compensated
        self._debt_s = 0.0

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Send ``chunk`` no faster than the rate allows."""
        rate = self.attributes.rate  # bytes per millisecond == KB/s
        if rate <= 0:
            self._debt_s = 0.0
            await emit(chunk)
            return
        data = chunk.data
        self._debt_s += len(data) / (rate * 1000.0)
        slice_bytes = rate * 100
        while len(data) > slice_bytes:
            if not await self.sleep(_SLICE_S):
                break  # interrupted: flush the rest now rather than hold it
            await emit(Chunk(data[:slice_bytes], chunk.timestamp))
            data = data[slice_bytes:]
            self._debt_s -= _SLICE_S
        started = link.now()
        await self.sleep(self._debt_s)
        self._debt_s -= link.now() - started
        await emit(Chunk(data, chunk.timestamp))


register("bandwidth", BandwidthAttributes, BandwidthStage)
