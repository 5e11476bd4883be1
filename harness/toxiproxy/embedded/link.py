"""One proxied TCP connection: two sides, and one pipe per direction through the toxics.

With no toxics a pipe writes each read straight to the other side (the fast path), with
flow control between the two transports. With toxics, reads are stamped and queued, and a
worker task passes them through the stages in order. As in Toxiproxy, the end of either
direction (EOF or error) closes the whole connection once the pipe has drained, and toxics
can be added, updated or removed while the connection is open.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import cast

from harness.toxiproxy.embedded.toxics import Chunk, ToxicStage

__all__ = ["Connection", "Pipe", "Side"]

_log = logging.getLogger(__name__)

# queued bytes above which the source stops being read, and below which it is read again
_QUEUE_HIGH_BYTES = 1 << 20
_QUEUE_LOW_BYTES = 1 << 18
# how long a closing side may take to flush what was written to it
_FLUSH_GRACE_S = 5.0
# SO_LINGER on, 0 s: close() discards unsent data and sends RST, as Toxiproxy's SetLinger(0)
_LINGER_RESET = struct.pack("ii", 1, 0)


class Side(asyncio.Protocol):
    """One socket of a connection (the client's or the upstream's)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.outgoing: Pipe | None = None  # bytes read here go into this pipe
        self.incoming: Pipe | None = None  # this pipe writes to this side
        self.write_paused = False
        self._pause_reasons: set[str] = set()
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._early: list[bytes] = []
        self._early_eof = False
        self.lost = False

    # --- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Feed the pipe that carries this side's bytes to the other side."""
        if self.outgoing is None:
            self._early.append(data)  # arrived before the connection was wired up
        else:
            self.outgoing.feed(data)

    def eof_received(self) -> bool:
        """Keep the transport open: the pipe closes the connection once it has drained."""
        if self.outgoing is None:
            self._early_eof = True
        else:
            self.outgoing.feed_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """An error or a close ends this side's outgoing direction, like an EOF."""
        self.lost = True
        self._wake_drainers()
        if self.outgoing is not None:
            self.outgoing.feed_eof()
        else:
            self._early_eof = True

    def pause_writing(self) -> None:
        """Our write buffer is full: stop reading the side that feeds it."""
        self.write_paused = True
        if self.incoming is not None:
            self.incoming.source.pause("peer")

    def resume_writing(self) -> None:
        """Our write buffer drained: read the feeding side again, wake waiting writers."""
        self.write_paused = False
        if self.incoming is not None:
            self.incoming.source.resume("peer")
        self._wake_drainers()

    # --- used by pipes -----------------------------------------------------------------
    def attach(self, outgoing: Pipe, incoming: Pipe) -> None:
        """Wire the pipes and replay anything read before they existed."""
        self.outgoing = outgoing
        self.incoming = incoming
        early, self._early = self._early, []
        for data in early:
            outgoing.feed(data)
        if self._early_eof:
            outgoing.feed_eof()

    def write(self, data: bytes) -> None:
        """Write unless this side is gone (Toxiproxy drops data for a dead destination)."""
        if self.transport is not None and not self.lost and not self.transport.is_closing():
            self.transport.write(data)

    async def drained(self) -> None:
        """Return once the write buffer is below the high-water mark (or the side is gone)."""
        if not self.write_paused or self.lost:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def pause(self, reason: str) -> None:
        """Stop reading for ``reason`` (several reasons may hold at once)."""
        if not self._pause_reasons and self.transport is not None:
            self.transport.pause_reading()
        self._pause_reasons.add(reason)

    def resume(self, reason: str) -> None:
        """Drop ``reason``; read again when no reason is left."""
        if reason not in self._pause_reasons:
            return
        self._pause_reasons.discard(reason)
        if not self._pause_reasons and self.transport is not None:
            if not self.transport.is_closing():
                self.transport.resume_reading()

    def close(self) -> None:
        """Flush and close (FIN); a peer that will not take the rest is dropped after a grace."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            if transport.get_write_buffer_size():
                # Go hands unsent bytes to the kernel and frees the socket at once; we hold
                # them in user space, so bound how long a stalled peer can keep them alive
                asyncio.get_running_loop().call_later(_FLUSH_GRACE_S, transport.abort)
        self._wake_drainers()

    def reset(self) -> None:
        """Close with RST, discarding unsent data."""
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                except OSError:
                    pass  # already closed by the peer: nothing left to reset
            self.transport.abort()
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Pipe:
    """One direction of a connection: source side -> toxic stages -> destination side.

    It is also the :class:`LinkControl` its stages act through.
    """

    def __init__(
        self,
        connection: Connection,
        direction: str,
        source: Side,
        dest: Side,
        stages: Sequence[ToxicStage],
    ) -> None:
        self.connection = connection
        self.direction = direction
        self.source = source
        self.dest = dest
        self.stages: list[ToxicStage] = list(stages)
        self._loop = asyncio.get_running_loop()
        self._pending: deque[Chunk] = deque()
        self._pending_bytes = 0
        self._busy = False
        self._eof = False
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    # --- LinkControl ---------------------------------------------------------------------
    def now(self) -> float:
        """The loop clock."""
        return self._loop.time()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Schedule ``callback`` on the loop."""
        return self._loop.call_later(delay_s, callback)

    def close(self) -> None:
        """Close the whole connection (FIN on both sides)."""
        self.connection.close()

    def reset(self) -> None:
        """Reset the whole connection (RST on both sides)."""
        self.connection.reset()

    # --- data --------------------------------------------------------------------------
    def start(self) -> None:
        """Start every stage; run the worker if there are stages."""
        for stage in self.stages:
            stage.start(self)
        if self.stages:
            self._ensure_worker()

    def feed(self, data: bytes) -> None:
        """Bytes read from the source."""
        if self.connection.closed:
            return
        if not self.stages and not self._busy and not self._pending:
            self.dest.write(data)  # fast path: nothing to apply, nothing queued before it
            return
        self._pending.append(Chunk(data, self._loop.time()))
        self._pending_bytes += len(data)
        if self._pending_bytes > _QUEUE_HIGH_BYTES:
            self.source.pause("queue")
        self._ensure_worker()
        self._wakeup.set()

    def feed_eof(self) -> None:
        """The source ended: drain, let stages finish, then close the connection."""
        if self._eof:
            return
        self._eof = True
        if not self.stages and not self._busy and not self._pending:
            self.connection.close()
            return
        self._ensure_worker()
        self._wakeup.set()

    def _ensure_worker(self) -> None:
        if self._worker is None and not self.connection.closed:
            self._worker = self._loop.create_task(self._work())
            self._worker.add_done_callback(self._worker_done)

    def _worker_done(self, worker: asyncio.Task[None]) -> None:
        if worker.cancelled() or worker.exception() is None:
            return
        # a toxic failed: say so loudly and reset the connection rather than leave it hanging
        _log.error(
            "toxic pipeline %s failed; resetting the connection",
            self.direction,
            exc_info=worker.exception(),
        )
        self.connection.reset()

    async def _work(self) -> None:
        while not self.connection.closed:
            if not self._pending:
                if self._eof:
                    break
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            chunk = self._pending.popleft()
            self._pending_bytes -= len(chunk.data)
            if self._pending_bytes < _QUEUE_LOW_BYTES:
                self.source.resume("queue")
            self._busy = True
            try:
                await self._forward(chunk, tuple(self.stages), 0)
            finally:
                self._busy = False
        if self.connection.closed:
            return
        for stage in tuple(self.stages):
            if stage.active and not self.connection.closed:
                await stage.finish(self)
        self.connection.close()

    async def _forward(self, chunk: Chunk, stages: tuple[ToxicStage, ...], index: int) -> None:
        while index < len(stages) and not stages[index].active:
            index += 1
        if self.connection.closed:
            return
        if index == len(stages):
            self.dest.write(chunk.data)
            await self.dest.drained()
            return
        emit = partial(self._forward, stages=stages, index=index + 1)
        await stages[index].pipe(chunk, emit, self)

    # --- chain changes -----------------------------------------------------------------
    def add_stage(self, stage: ToxicStage) -> None:
        """A toxic was added to the proxy: append it here too."""
        self.stages.append(stage)
        stage.start(self)
        self._ensure_worker()

    def restart_stage(self, stage: ToxicStage, toxicity: float, roll: Callable[[], float]) -> None:
        """A toxic was updated: interrupt it, re-roll toxicity, start it again."""
        stage.stop()
        stage.active = roll() < toxicity
        if stage.active:
            stage.start(self)

    def remove_stage(self, stage: ToxicStage) -> None:
        """A toxic was removed: take it out (a timeout toxic closes the connection)."""
        if stage in self.stages:
            self.stages.remove(stage)
        was_active = stage.active
        stage.active = False
        if was_active:
            stage.remove(self)
        else:
            stage.stop()

    def stop(self) -> None:
        """The connection closed: stop stages and the worker."""
        for stage in self.stages:
            stage.stop()
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task() and not worker.done():
            worker.cancel()


class Connection:
    """A client accepted by a proxy, joined to its own upstream connection."""

    def __init__(
        self,
        client: Side,
        upstream: Side,
        upstream_stages: Sequence[ToxicStage],
        downstream_stages: Sequence[ToxicStage],
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = False
        self._on_closed = on_closed
        self.pipes = {
            "upstream": Pipe(self, "upstream", client, upstream, upstream_stages),
            "downstream": Pipe(self, "downstream", upstream, client, downstream_stages),
        }

    def start(self) -> None:
        """Wire both sides and begin moving bytes."""
        self.client.attach(self.pipes["upstream"], self.pipes["downstream"])
        self.upstream.attach(self.pipes["downstream"], self.pipes["upstream"])
        for pipe in self.pipes.values():
            pipe.start()
        self.client.resume("connect")

    def close(self) -> None:
        """Flush written data and close both sides."""
        if self._finish():
            self.client.close()
            self.upstream.close()

    def reset(self) -> None:
        """Reset both sides."""
        if self._finish():
            self.client.reset()
            self.upstream.reset()

    def abort(self) -> None:
        """Drop both sides now, without flushing (used when the whole server stops)."""
        if self._finish():
            for side in (self.client, self.upstream):
                if side.transport is not None:
                    side.transport.abort()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for pipe in self.pipes.values():
            pipe.stop()
        self._on_closed(self)
        return True
