"""``timeout``: drop all data; close the connection after ``timeout`` ms (0: never, stall)."""

from __future__ import annotations

import asyncio
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
class TimeoutAttributes(ToxicAttributes):
    """Timeout in milliseconds; 0 keeps the connection open and silent forever."""

    timeout: int = 0


class TimeoutStage(BaseStage[TimeoutAttributes]):
    """Swallow every chunk; a timer (restarted on update, as Toxiproxy) closes the link."""

    __slots__ = ("_timer",)

    def __init__(self, attributes: TimeoutAttributes) -> None:
        super().__init__(attributes)
        self._timer: asyncio.TimerHandle | None = None

    def start(self, link: LinkControl) -> None:
        """Arm the close timer when there is a timeout."""
        if self.attributes.timeout > 0:
            self._timer = link.call_later(self.attributes.timeout / 1000.0, link.close)

    def stop(self) -> None:
        """Disarm the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().stop()

    def remove(self, link: LinkControl) -> None:
        """Toxiproxy closes connections a timeout toxic was holding when it is removed."""
        self.stop()
        link.close()

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Drop the data on the ground."""


register("timeout", TimeoutAttributes, TimeoutStage)
