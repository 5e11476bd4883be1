"""A proxy: one listening socket, its upstream, its toxics and its live connections.

Everything here runs on the embedded server's event loop; nothing is thread-safe and
nothing needs to be.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from harness.toxiproxy.embedded.addresses import (
    format_host_port,
    resolve_listen,
    split_host_port,
)
from harness.toxiproxy.embedded.link import Connection, Side
from harness.toxiproxy.embedded.toxics import (
    ToxicAttributes,
    ToxicKind,
    ToxicStage,
    attributes_json,
)

__all__ = ["DIRECTIONS", "Proxy", "Toxic", "float32"]

DIRECTIONS = ("upstream", "downstream")


def float32(value: float) -> float:
    """``value`` as Toxiproxy keeps a toxicity (a Go ``float32``), written back with the
    fewest digits that read as that float32, as Go's JSON encoder writes it (0.12345679
    for 0.1234567891)."""
    (single,) = struct.unpack("f", struct.pack("f", value))
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        shortest = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shortest))[0] == single:
            return shortest
    return float(single)


@dataclass(slots=True)
class Toxic:
    """A toxic configured on a proxy (the API's view; stages are its per-connection copies)."""

    name: str
    kind: ToxicKind
    stream: str  # as the client spelled it; Toxiproxy echoes it back unchanged
    direction: str  # "upstream" or "downstream"
    toxicity: float
    attributes: ToxicAttributes

    def to_json(self) -> dict[str, object]:
        """Toxiproxy's JSON for a toxic, keys in its order."""
        # Go prints float32 1.0 as 1; keep integral toxicities integral on the wire
        toxicity: float | int = float32(self.toxicity)
        if float(toxicity).is_integer():
            toxicity = int(toxicity)
        return {
            "attributes": attributes_json(self.attributes),
            "name": self.name,
            "type": self.kind.name,
            "stream": self.stream,
            "toxicity": toxicity,
        }


class _ClientSide(Side):
    """The accepted socket: held paused until its upstream connection is made."""

    def __init__(self, on_connected: Callable[[_ClientSide], None]) -> None:
        super().__init__()
        self._on_connected = on_connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Pause reading and dial the upstream."""
        super().connection_made(transport)
        self.pause("connect")
        self._on_connected(self)


class Proxy:
    """A named listener that forwards each accepted connection to ``upstream``."""

    def __init__(
        self,
        name: str,
        listen: str,
        upstream: str,
        *,
        bind_any_when_empty: bool = False,
        roll: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, list[Toxic]] = {direction: [] for direction in DIRECTIONS}
        self._bind_any_when_empty = bind_any_when_empty
        self._roll = roll
        self._server: asyncio.AbstractServer | None = None
        self._dials: set[asyncio.Task[None]] = set()
        self._stages: dict[Connection, dict[str, ToxicStage]] = {}

    # --- JSON --------------------------------------------------------------------------
    def toxic_list(self) -> list[Toxic]:
        """Upstream toxics then downstream ones, each in the order added (as Toxiproxy)."""
        return [toxic for direction in DIRECTIONS for toxic in self.toxics[direction]]

    def find_toxic(self, name: str) -> Toxic | None:
        """The toxic called ``name``, in either direction."""
        for toxic in self.toxic_list():
            if toxic.name == name:
                return toxic
        return None

    def to_json(self) -> dict[str, object]:
        """Toxiproxy 2.12's JSON for a proxy, including its empty ``Logger`` object."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [toxic.to_json() for toxic in self.toxic_list()],
        }

    @property
    def connection_count(self) -> int:
        """Live proxied connections."""
        return len(self._stages)

    # --- listening ---------------------------------------------------------------------
    async def start(self) -> None:
        """Listen; ``listen`` becomes the bound address. Raises ``ValueError`` for an address
        Go cannot parse, ``OSError`` if bind fails."""
        if self.enabled:
            return
        host, port = resolve_listen(self.listen)  # ValueError with Go's text
        bind_host: str | None = host
        if host == "localhost":
            bind_host = "127.0.0.1"  # as Go resolves it; one socket, one port
        elif host == "":
            bind_host = None if self._bind_any_when_empty else "127.0.0.1"
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _ClientSide(self._dial), bind_host, port, reuse_address=True
        )
        address = server.sockets[0].getsockname()
        self.listen = format_host_port(address[0], address[1])
        self._server = server
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and close every connection (Toxiproxy's ``stop``)."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._dials):
            task.cancel()
        for connection in list(self._stages):
            connection.close()

    def abort(self) -> None:
        """Synchronous hard stop for server shutdown: no flushing."""
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._dials):
            task.cancel()
        for connection in list(self._stages):
            connection.abort()

    def _dial(self, client: _ClientSide) -> None:
        task = asyncio.get_running_loop().create_task(self._connect(client))
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _connect(self, client: _ClientSide) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = split_host_port(self.upstream)
            _, upstream = await loop.create_connection(Side, host, port)
        except (OSError, ValueError):
            client.close()  # Toxiproxy closes the client when the upstream cannot be dialled
            return
        except asyncio.CancelledError:
            client.close()
            raise
        if not self.enabled or client.lost:
            upstream.close()
            client.close()
            return
        stages = {toxic.name: self._new_stage(toxic) for toxic in self.toxic_list()}
        connection = Connection(
            client,
            upstream,
            [stages[toxic.name] for toxic in self.toxics["upstream"]],
            [stages[toxic.name] for toxic in self.toxics["downstream"]],
            self._forget,
        )
        self._stages[connection] = stages
        connection.start()

    def _forget(self, connection: Connection) -> None:
        self._stages.pop(connection, None)

    def _new_stage(self, toxic: Toxic) -> ToxicStage:
        stage = toxic.kind.new_stage(toxic.attributes)
        # toxicity is drawn once per connection and direction, as Toxiproxy's stub does
        stage.active = self._roll() < toxic.toxicity
        return stage

    # --- toxics ------------------------------------------------------------------------
    def add_toxic(self, toxic: Toxic) -> None:
        """Append ``toxic`` to its direction's chain, on live connections too."""
        self.toxics[toxic.direction].append(toxic)
        for connection, stages in list(self._stages.items()):
            stage = self._new_stage(toxic)
            stages[toxic.name] = stage
            connection.pipes[toxic.direction].add_stage(stage)

    def update_toxic(self, toxic: Toxic) -> None:
        """Apply ``toxic``'s new attributes and toxicity to live connections."""
        for connection, stages in list(self._stages.items()):
            stage = stages.get(toxic.name)
            if stage is None:
                continue
            # the stage keeps its per-connection state (e.g. bytes counted) across updates
            stage.reconfigure(toxic.attributes)
            connection.pipes[toxic.direction].restart_stage(stage, toxic.toxicity, self._roll)

    def remove_toxic(self, toxic: Toxic) -> None:
        """Take ``toxic`` out of its chain and off every live connection."""
        self.toxics[toxic.direction].remove(toxic)
        for connection, stages in list(self._stages.items()):
            stage = stages.pop(toxic.name, None)
            if stage is not None:
                connection.pipes[toxic.direction].remove_stage(stage)

    def remove_all_toxics(self) -> None:
        """Remove every toxic (``/reset``)."""
        for toxic in self.toxic_list():
            self.remove_toxic(toxic)
