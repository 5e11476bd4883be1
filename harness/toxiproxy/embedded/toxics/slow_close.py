"""``slow_close``: when the source closes, wait ``delay`` ms before closing the connection."""

from __future__ import annotations

from dataclasses import dataclass

from harness.toxiproxy.embedded.toxics.base import BaseStage, LinkControl, ToxicAttributes
from harness.toxiproxy.embedded.toxics.registry import register


@dataclass(frozen=True, slots=True)
class SlowCloseAttributes(ToxicAttributes):
    """Delay in milliseconds."""

    delay: int = 0


class SlowCloseStage(BaseStage[SlowCloseAttributes]):
    """Data passes unchanged; only the close is held back."""

    __slots__ = ()

    async def finish(self, link: LinkControl) -> None:
        """Hold the close for ``delay`` ms."""
        await self.sleep(self.attributes.delay / 1000.0)


register("slow_close", SlowCloseAttributes, SlowCloseStage)
