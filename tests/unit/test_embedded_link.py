"""Connections and pipes of the embedded Toxiproxy over fake transports (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from harness.toxiproxy.embedded.link import Connection, Side
from harness.toxiproxy.embedded.toxics import (
    BaseStage,
    Chunk,
    Emit,
    LinkControl,
    ToxicStage,
    get_kind,
    parse_attributes,
)


class FakeTransport(asyncio.Transport):
    """Records writes and how it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def stage(kind_name: str, **attributes: int) -> ToxicStage:
    kind = get_kind(kind_name)
    assert kind is not None
    return kind.new_stage(parse_attributes(kind, attributes))


def wire(
    up: list[ToxicStage] | None = None, down: list[ToxicStage] | None = None
) -> tuple[Connection, Side, Side, FakeTransport, FakeTransport]:
    client, upstream = Side(), Side()
    client_t, upstream_t = FakeTransport(), FakeTransport()
    client.connection_made(client_t)
    upstream.connection_made(upstream_t)
    closed: list[Connection] = []
    connection = Connection(client, upstream, up or [], down or [], closed.append)
    connection.start()
    return connection, client, upstream, client_t, upstream_t


async def until(check: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_without_toxics_bytes_go_straight_through_both_ways() -> None:
    async def scenario() -> None:
        _, client, upstream, client_t, upstream_t = wire()
        client.data_received(b"request")
        upstream.data_received(b"response")
        assert bytes(upstream_t.written) == b"request"
        assert bytes(client_t.written) == b"response"

    run(scenario)


def test_eof_from_one_side_closes_both() -> None:
    async def scenario() -> None:
        connection, client, _, client_t, upstream_t = wire()
        client.eof_received()
        assert connection.closed
        assert client_t.closed
        assert upstream_t.closed

    run(scenario)


def test_data_read_before_wiring_is_replayed_in_order() -> None:
    async def scenario() -> None:
        client, upstream = Side(), Side()
        client_t, upstream_t = FakeTransport(), FakeTransport()
        client.connection_made(client_t)
        upstream.connection_made(upstream_t)
        upstream.data_received(b"banner")
        Connection(client, upstream, [], [], lambda _: None).start()
        upstream.data_received(b"+more")
        assert bytes(client_t.written) == b"banner+more"

    run(scenario)


def test_a_latency_toxic_delays_but_keeps_order() -> None:
    async def scenario() -> None:
        _, _, upstream, client_t, _ = wire(down=[stage("latency", latency=30)])
        loop = asyncio.get_running_loop()
        started = loop.time()
        for part in (b"a", b"b", b"c"):
            upstream.data_received(part)
        assert client_t.written == b""
        await until(lambda: client_t.written == b"abc")
        assert loop.time() - started >= 0.029

    run(scenario)


def test_eof_after_queued_data_flushes_then_closes() -> None:
    async def scenario() -> None:
        connection, _, upstream, client_t, _ = wire(down=[stage("latency", latency=10)])
        upstream.data_received(b"last words")
        upstream.eof_received()
        assert not connection.closed
        await until(lambda: connection.closed)
        assert bytes(client_t.written) == b"last words"
        assert client_t.closed

    run(scenario)


def test_limit_data_closes_the_connection() -> None:
    async def scenario() -> None:
        connection, _, upstream, client_t, _ = wire(down=[stage("limit_data", bytes=4)])
        upstream.data_received(b"abcdef")
        await until(lambda: connection.closed)
        assert bytes(client_t.written) == b"abcd"

    run(scenario)


def test_reset_peer_aborts_both_sides() -> None:
    async def scenario() -> None:
        connection, client, _, client_t, upstream_t = wire(up=[stage("reset_peer")])
        client.data_received(b"x")
        await until(lambda: connection.closed)
        assert client_t.aborted
        assert upstream_t.aborted
        assert upstream_t.written == b""

    run(scenario)


def test_toxics_can_be_added_and_removed_on_a_live_connection() -> None:
    async def scenario() -> None:
        connection, _, upstream, client_t, _ = wire()
        timeout = stage("timeout")
        connection.pipes["downstream"].add_stage(timeout)
        upstream.data_received(b"dropped")
        await asyncio.sleep(0.01)
        assert client_t.written == b""
        noop = stage("noop")
        connection.pipes["downstream"].add_stage(noop)
        connection.pipes["downstream"].remove_stage(noop)
        assert not connection.closed
        # removing a timeout toxic closes what it held, as Toxiproxy does
        connection.pipes["downstream"].remove_stage(timeout)
        assert connection.closed

    run(scenario)


def test_a_full_queue_pauses_the_source() -> None:
    async def scenario() -> None:
        _, _, upstream, _, upstream_t = wire(down=[stage("latency", latency=50)])
        for _ in range(20):
            upstream.data_received(bytes(100_000))
        assert upstream_t.reading is False
        await until(lambda: upstream_t.reading)

    run(scenario)


class BrokenStage(BaseStage[object]):  # type: ignore[type-var]
    async def pipe(self, chunk: Chunk, emit: Emit, link: LinkControl) -> None:
        raise RuntimeError("bug in a toxic")


def test_a_failing_toxic_resets_the_connection_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        connection, _, upstream, client_t, _ = wire(down=[BrokenStage(object())])
        upstream.data_received(b"x")
        await until(lambda: connection.closed)
        assert client_t.aborted

    run(scenario)
    assert "bug in a toxic" in caplog.text
