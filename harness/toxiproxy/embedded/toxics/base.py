"""The contract every toxic implements, and the small runtime it is given.

A *toxic kind* (``latency``, ``bandwidth``...) is registered once by name with two things:
its attributes (a frozen dataclass of integer fields whose defaults are Toxiproxy's) and a
*stage* class. A stage is one toxic on one direction of one connection: it is created when
the connection opens (or when the toxic is added to a proxy that already has connections),
sees every chunk of bytes that flows that way, and passes it on by awaiting ``emit``.

This mirrors Toxiproxy's ``ToxicStub``: per-connection state (``limit_data``'s byte count)
lives on the stage, and the toxic's configuration can change under it (``update``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

__all__ = [
    "BaseStage",
    "Chunk",
    "Emit",
    "LinkControl",
    "ToxicAttributes",
    "ToxicStage",
]


@dataclass(slots=True)
class Chunk:
    """Bytes read from one side, stamped with the loop time at which they were read.

    Latency is measured from ``timestamp`` (as Toxiproxy does), so chunks queued behind a
    delayed one are not delayed twice.
    """

    data: bytes
    timestamp: float


Emit = Callable[[Chunk], Awaitable[None]]


class LinkControl(Protocol):
    """What a stage may do to the connection it sits on."""

    def now(self) -> float:
        """The event loop's monotonic clock, in seconds."""
        ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Run ``callback`` after ``delay_s`` seconds unless the handle is cancelled."""
        ...

    def close(self) -> None:
        """Flush what was already emitted, then close both sides of the connection (FIN)."""
        ...

    def reset(self) -> None:
        """Close both sides at once with a TCP RST (SO_LINGER 0), discarding unsent data."""
        ...


@dataclass(frozen=True, slots=True)
class ToxicAttributes:
    """Base of every toxic's attributes: integer fields, Toxiproxy's defaults."""


class ToxicStage(Protocol):
    """One toxic applied to one direction of one live connection."""

    active: bool

    def start(self, link: LinkControl) -> None:
        """The stage joined a link (connection opened, toxic added, or toxic updated)."""
        ...

    def stop(self) -> None:
        """The stage leaves or is about to be restarted: cancel timers, end sleeps."""
        ...

    def reconfigure(self, attributes: ToxicAttributes) -> None:
        """The toxic was updated: use ``attributes`` from now on, keeping per-connection state."""
        ...

    def remove(self, link: LinkControl) -> None:
        """The toxic was deleted while this connection was open."""
        ...

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Handle one chunk: pass it on with ``await emit(...)``, change it, or drop it."""
        ...

    async def finish(self, link: LinkControl) -> None:
        """The source side ended (EOF); runs before the connection is closed."""
        ...


A = TypeVar("A", bound=ToxicAttributes)


class BaseStage(Generic[A]):
    """Defaults for a stage: pass every chunk through, nothing to start or stop.

    Subclasses read their configuration from ``self.attributes``, which the proxy replaces
    when the toxic is updated. ``sleep`` is the only way a stage should wait: it returns
    early (``False``) when the stage is interrupted by an update, a removal or a close, which
    is how Toxiproxy's stubs avoid holding data while their chain is rewired.
    """

    __slots__ = ("active", "attributes", "_sleepers")

    def __init__(self, attributes: A) -> None:
        self.attributes: A = attributes
        self.active = True
        self._sleepers: set[asyncio.Future[bool]] = set()

    def start(self, link: LinkControl) -> None:
        """Nothing to start by default."""

    def stop(self) -> None:
        """Wake every sleep of this stage; subclasses also cancel their timers."""
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(False)
        self._sleepers.clear()

    def reconfigure(self, attributes: ToxicAttributes) -> None:
        """Take the updated attributes (the registry guarantees they are this kind's)."""
        self.attributes = cast(A, attributes)

    def remove(self, link: LinkControl) -> None:
        """By default a removed toxic just stops."""
        self.stop()

    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        """Pass the chunk on unchanged."""
        await emit(chunk)

    async def finish(self, link: LinkControl) -> None:
        """Nothing to do at end of stream by default."""

    async def sleep(self, delay_s: float) -> bool:
        """Wait ``delay_s`` seconds; ``True`` if the full time passed, ``False`` if interrupted."""
        if delay_s <= 0:
            return True
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[bool] = loop.create_future()
        handle = loop.call_later(delay_s, _resolve, sleeper)
        self._sleepers.add(sleeper)
        try:
            return await sleeper
        finally:
            handle.cancel()
            self._sleepers.discard(sleeper)


def _resolve(sleeper: asyncio.Future[bool]) -> None:
    if not sleeper.done():
        sleeper.set_result(True)
