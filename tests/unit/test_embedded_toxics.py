"""Toxic stages of the embedded Toxiproxy, driven through a recording fake link (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.toxiproxy.embedded.toxics import BaseStage, Chunk, get_kind, parse_attributes
from harness.toxiproxy.embedded.toxics.slicer import slice_bounds


class FakeLink:
    """Records what a stage does to its connection."""

    def __init__(self) -> None:
        self.closed = 0
        self.resets = 0
        self.loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay_s, callback)

    def close(self) -> None:
        self.closed += 1

    def reset(self) -> None:
        self.resets += 1


def make_stage(kind_name: str, **attributes: int) -> BaseStage:  # type: ignore[type-arg]
    kind = get_kind(kind_name)
    assert kind is not None
    stage = kind.new_stage(parse_attributes(kind, attributes))
    assert isinstance(stage, BaseStage)
    return stage


async def run_chunks(stage: BaseStage, link: FakeLink, *payloads: bytes) -> list[bytes]:  # type: ignore[type-arg]
    out: list[bytes] = []

    async def emit(chunk: Chunk) -> None:
        out.append(chunk.data)

    for payload in payloads:
        await stage.pipe(Chunk(payload, link.now()), emit, link)
    return out


def test_latency_delays_each_chunk_from_when_it_was_read() -> None:
    async def scenario() -> tuple[float, float]:
        link = FakeLink()
        stage = make_stage("latency", latency=50)
        started = link.now()
        await run_chunks(stage, link, b"a")
        first = link.now() - started
        # a chunk read 50 ms ago has already waited its latency
        late = Chunk(b"b", link.now() - 0.05)
        before = link.now()
        await stage.pipe(late, _sink, link)
        return first, link.now() - before

    first_s, second_s = asyncio.run(scenario())
    assert first_s >= 0.049
    assert second_s < 0.02


def test_latency_is_interrupted_by_stop() -> None:
    async def scenario() -> float:
        link = FakeLink()
        stage = make_stage("latency", latency=5000)
        started = link.now()
        task = asyncio.ensure_future(run_chunks(stage, link, b"a"))
        await asyncio.sleep(0.01)
        stage.stop()
        assert await task == [b"a"]
        return link.now() - started

    assert asyncio.run(scenario()) < 1.0


def test_limit_data_passes_n_bytes_then_closes_and_counts_across_chunks() -> None:
    async def scenario() -> tuple[list[bytes], int]:
        link = FakeLink()
        stage = make_stage("limit_data", bytes=5)
        out = await run_chunks(stage, link, b"abc", b"defg")
        return out, link.closed

    out, closed = asyncio.run(scenario())
    assert out == [b"abc", b"de"]
    assert closed == 1


def test_timeout_drops_data_and_closes_after_its_timer() -> None:
    async def scenario() -> tuple[list[bytes], int, int]:
        link = FakeLink()
        stage = make_stage("timeout", timeout=20)
        stage.start(link)
        out = await run_chunks(stage, link, b"gone")
        before = link.closed
        await asyncio.sleep(0.05)
        return out, before, link.closed

    out, before, after = asyncio.run(scenario())
    assert out == []
    assert (before, after) == (0, 1)


def test_timeout_zero_never_closes_but_closes_when_removed() -> None:
    async def scenario() -> tuple[int, int]:
        link = FakeLink()
        stage = make_stage("timeout", timeout=0)
        stage.start(link)
        await asyncio.sleep(0.03)
        before = link.closed
        stage.remove(link)
        return before, link.closed

    assert asyncio.run(scenario()) == (0, 1)


def test_reset_peer_resets_after_its_timeout_and_drops_the_chunk() -> None:
    async def scenario() -> tuple[list[bytes], int, float]:
        link = FakeLink()
        stage = make_stage("reset_peer", timeout=30)
        started = link.now()
        out = await run_chunks(stage, link, b"x")
        return out, link.resets, link.now() - started

    out, resets, waited_s = asyncio.run(scenario())
    assert (out, resets) == ([], 1)
    assert waited_s >= 0.029


def test_reset_peer_removed_while_waiting_does_not_reset() -> None:
    async def scenario() -> int:
        link = FakeLink()
        stage = make_stage("reset_peer", timeout=5000)
        task = asyncio.ensure_future(run_chunks(stage, link, b"x"))
        await asyncio.sleep(0.01)
        stage.active = False
        stage.remove(link)
        await task
        return link.resets

    assert asyncio.run(scenario()) == 0


def test_slow_close_waits_its_delay_at_end_of_stream() -> None:
    async def scenario() -> float:
        link = FakeLink()
        stage = make_stage("slow_close", delay=30)
        started = link.now()
        await stage.finish(link)
        return link.now() - started

    assert asyncio.run(scenario()) >= 0.029


def test_bandwidth_paces_to_its_rate() -> None:
    async def scenario() -> tuple[list[bytes], float]:
        link = FakeLink()
        stage = make_stage("bandwidth", rate=100)  # 100 KB/s: 20 KB takes 0.2 s
        started = link.now()
        out = await run_chunks(stage, link, bytes(10_000), bytes(10_000))
        return out, link.now() - started

    out, elapsed_s = asyncio.run(scenario())
    assert b"".join(out) == bytes(20_000)
    assert 0.18 <= elapsed_s <= 0.4


def test_bandwidth_zero_is_unlimited() -> None:
    async def scenario() -> float:
        link = FakeLink()
        stage = make_stage("bandwidth", rate=0)
        started = link.now()
        await run_chunks(stage, link, bytes(1_000_000))
        return link.now() - started

    assert asyncio.run(scenario()) < 0.05


def test_slicer_delivers_every_byte_in_order() -> None:
    async def scenario() -> list[bytes]:
        link = FakeLink()
        stage = make_stage("slicer", average_size=10, size_variation=3, delay=1)
        return await run_chunks(stage, link, bytes(range(200)))

    pieces = asyncio.run(scenario())
    assert b"".join(pieces) == bytes(range(200))
    assert len(pieces) > 10


@given(
    size=st.integers(0, 5000),
    average=st.integers(-5, 300),
    variation=st.integers(0, 300),
)
def test_slice_bounds_tile_the_data_without_empty_pieces(
    size: int, average: int, variation: int
) -> None:
    bounds = slice_bounds(size, average, variation)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == size
    for (_, end), (start, _) in zip(bounds, bounds[1:], strict=False):
        assert end == start
    if size > 0:
        assert all(end > start for start, end in bounds)


def test_slice_bounds_are_near_the_average_size() -> None:
    bounds = slice_bounds(10_000, 100, 0)
    assert max(end - start for start, end in bounds) <= 100


@pytest.mark.parametrize("kind_name", ["noop", "latency", "slicer"])
def test_passing_toxics_pass_chunks_through(kind_name: str) -> None:
    async def scenario() -> list[bytes]:
        link = FakeLink()
        return await run_chunks(make_stage(kind_name), link, b"hello")

    assert b"".join(asyncio.run(scenario())) == b"hello"


async def _sink(chunk: Chunk) -> None:
    return None
