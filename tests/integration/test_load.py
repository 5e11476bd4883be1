"""The load phase against a real uvicorn + Starlette server on 127.0.0.1, port 0.

Each test runs a real Locust child process (or a master and two workers) and checks what
it reports against what the server counted.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import harness.load.driver
from harness.errors import LoadGeneratorError, UnsafeTargetError
from harness.load import LoadProgress, LoadSpec, RequestSpec, run_load, start_load
from harness.load.histogram import merge_encoded
from target_api.testing import poll_until

pytestmark = pytest.mark.integration

STALL_S = 0.2
STALL_AFTER_S = 1.0


@dataclass
class Server:
    url: str
    hits: Counter[str] = field(default_factory=Counter)
    stalls: int = 0


def make_app(server: Server) -> Starlette:
    first_stall_request: list[float] = []

    async def ping(request: Request) -> Response:
        server.hits["ping"] += 1
        return JSONResponse({"status": "ok"})

    async def fail(request: Request) -> Response:
        server.hits["fail"] += 1
        return JSONResponse({"error": "boom", "detail": "injected"}, status_code=500)

    async def slow(request: Request) -> Response:
        server.hits["slow"] += 1
        await asyncio.sleep(float(request.query_params.get("ms", "100")) / 1000)
        return JSONResponse({"status": "ok"})

    async def stall_once(request: Request) -> Response:
        # One event-loop stall (a GC pause, a blocking call): every connection freezes.
        server.hits["stall"] += 1
        now = time.monotonic()
        if not first_stall_request:
            first_stall_request.append(now)
        elif server.stalls == 0 and now - first_stall_request[0] >= STALL_AFTER_S:
            server.stalls += 1
            time.sleep(STALL_S)
        return JSONResponse({"status": "ok"})

    async def create(request: Request) -> Response:
        body = await request.body()
        ok = request.headers.get("authorization") == "Bearer t" and body == b'{"name": "p1"}'
        server.hits["create_ok" if ok else "create_bad"] += 1
        return JSONResponse({"id": "1"}, status_code=201 if ok else 400)

    return Starlette(
        routes=[
            Route("/ping", ping),
            Route("/fail", fail),
            Route("/slow", slow),
            Route("/stall", stall_once),
            Route("/pods", create, methods=["POST"]),
        ]
    )


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")
    config = uvicorn.Config(
        make_app(state),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="test-uvicorn", daemon=True)
    thread.start()

    def started() -> bool:
        if uv.started:
            return True
        assert thread.is_alive(), "uvicorn exited during start-up"
        return False

    poll_until("uvicorn started", started, 10, interval_s=0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_load_children_left() -> Iterator[None]:
    yield
    # run_load must end every child it started, on every path.
    assert _load_children() == []


def test_open_model_sends_exactly_the_schedule_and_the_server_agrees(server: Server) -> None:
    snapshots: list[LoadProgress] = []
    spec = LoadSpec(
        server.url, requests=(RequestSpec(path="/ping"),), rate_rps=200.0, users=5, duration_s=2.0
    )
    result = run_load(spec, progress=snapshots.append)
    assert result.requests == 400 == server.hits["ping"]
    assert result.failures == 0
    assert result.samples == 400
    assert result.model == "open"
    assert not result.interrupted
    assert 1.5 < result.duration_s < 3.0
    assert result.rps == pytest.approx(200.0, rel=0.25)
    assert sum(p.requests for p in result.timeline) == 400
    assert snapshots, "no progress callback within a 2 s run"
    assert [s.requests for s in snapshots] == sorted(s.requests for s in snapshots)
    assert all(s.duration_s == 2.0 for s in snapshots)


def test_500s_are_failures_and_their_messages_are_aggregated(server: Server) -> None:
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/ping"), RequestSpec(path="/fail")),
        rate_rps=0.0,
        users=4,
        duration_s=10.0,
        max_requests=300,
    )
    result = run_load(spec)
    assert result.requests == 300 == server.hits["ping"] + server.hits["fail"]
    assert result.failures == server.hits["fail"] > 50
    assert result.errors == {"GET /fail: HTTP 500 (expected [200])": server.hits["fail"]}
    assert result.model == "closed"


def test_a_200_ms_stall_shows_in_p99_under_the_open_model(server: Server) -> None:
    spec = LoadSpec(
        server.url, requests=(RequestSpec(path="/stall"),), rate_rps=300.0, users=10, duration_s=3.0
    )
    result = run_load(spec)
    assert server.stalls == 1
    assert result.requests == 900
    # ~60 requests were due during the stall, each charged from its intended send time;
    # measured from the actual send, only the 10 in flight would have seen it.
    assert result.latency_ms["p99"] >= 100.0
    assert result.latency_ms["max"] >= STALL_S * 1000 * 0.9
    assert max(p.p95_ms for p in result.timeline) >= 50.0


def test_max_requests_bounds_the_count_well_before_the_time_bound(server: Server) -> None:
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/ping"),),
        rate_rps=1000.0,
        users=4,
        duration_s=30.0,
        max_requests=150,
    )
    started = time.monotonic()
    result = run_load(spec)
    assert result.requests == 150
    # on a busy machine this server (a thread of the test process) can fall behind 1,000
    # req/s: the requests that found all 100 in flight were dropped and never sent
    assert server.hits["ping"] == result.requests - result.dropped
    assert time.monotonic() - started < 15.0


def test_closed_model_max_requests_is_exact(server: Server) -> None:
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/ping"),),
        rate_rps=0.0,
        users=7,
        duration_s=30.0,
        max_requests=250,
    )
    result = run_load(spec)
    assert result.requests == 250 == server.hits["ping"]


def test_a_target_outside_loopback_is_refused_before_any_process_starts() -> None:
    with pytest.raises(UnsafeTargetError, match="10.20.30.40"):
        run_load(LoadSpec("http://10.20.30.40:80", duration_s=1.0))
    with pytest.raises(UnsafeTargetError):
        start_load(LoadSpec("http://example.com:80", duration_s=1.0))


@pytest.mark.parametrize(("rate_rps", "max_requests"), [(200.0, None), (0.0, 401)])
def test_two_processes_master_and_workers_merge_their_histograms(
    server: Server, rate_rps: float, max_requests: int | None
) -> None:
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/ping"),),
        rate_rps=rate_rps,
        users=4,
        duration_s=2.0 if rate_rps else 20.0,
        processes=2,
        max_requests=max_requests,
    )
    result = run_load(spec)
    expected = max_requests or 400
    assert result.processes == 2
    assert result.requests == expected == server.hits["ping"]
    assert result.samples == expected
    assert merge_encoded([result.histogram]).get_total_count() == expected
    assert sum(p.requests for p in result.timeline) == expected


def test_connection_refused_is_counted_as_failures() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there now: every request fails to connect.
    spec = LoadSpec(
        f"http://127.0.0.1:{port}",
        rate_rps=0.0,
        users=2,
        duration_s=5.0,
        max_requests=20,
        request_timeout_s=2.0,
    )
    result = run_load(spec)
    assert result.requests == result.failures == 20
    assert any("Connection" in message for message in result.errors), result.errors


def test_timeouts_are_counted_as_failures(server: Server) -> None:
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/slow?ms=1500"),),
        rate_rps=0.0,
        users=2,
        duration_s=5.0,
        max_requests=2,
        request_timeout_s=0.5,
    )
    result = run_load(spec)
    assert result.requests == result.failures == 2
    assert result.latency_ms["max"] < 2000.0
    assert any("timeout" in message for message in result.errors), result.errors


def test_stop_ends_a_background_run_with_a_partial_result(server: Server) -> None:
    handle = start_load(
        LoadSpec(
            server.url,
            requests=(RequestSpec(path="/ping"),),
            rate_rps=100.0,
            users=2,
            duration_s=60.0,
        )
    )

    def progressed() -> bool:
        if handle.latest_progress is not None and handle.latest_progress.requests != 0:
            return True
        assert not handle.done(), "load run ended before it was stopped"
        return False

    poll_until("load progress", progressed, 15)
    handle.stop()
    result = handle.wait(timeout=20)
    assert result.interrupted
    assert 0 < result.requests < 6000
    assert result.requests == server.hits["ping"]


def test_stop_while_the_load_process_is_still_starting_is_an_empty_partial_result(
    server: Server,
) -> None:
    """Stopped (a soak's Ctrl-C) while its Locust process is still importing, before its
    SIGTERM handler is in place: the process dies of the signal, having sent nothing. That
    is an interrupted run with what it sent, not a failed load generator (exit 4)."""
    handle = start_load(
        LoadSpec(server.url, requests=(RequestSpec(path="/ping"),), rate_rps=100.0, users=2)
    )
    poll_until("the load process started", lambda: bool(_load_children()), 15, interval_s=0.01)
    handle.stop()
    result = handle.wait(timeout=20)
    assert result.interrupted
    assert result.requests == server.hits["ping"]


def _load_children() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "harness.load.worker" in " ".join(p.cmdline())
    ]


def test_a_killed_load_process_raises_load_generator_error_with_its_stderr(
    server: Server,
) -> None:
    handle = start_load(
        LoadSpec(
            server.url,
            requests=(RequestSpec(path="/ping"),),
            rate_rps=50.0,
            users=1,
            duration_s=60.0,
        )
    )
    poll_until("load progress", lambda: handle.latest_progress is not None, 15)
    (child,) = _load_children()
    child.kill()  # what the OOM killer would do
    with pytest.raises(LoadGeneratorError, match=r"exited with code -9[\s\S]*stderr tail"):
        handle.wait(timeout=20)


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_an_exception_in_the_progress_callback_ends_the_run_and_its_children(
    server: Server,
    exc_type: type[BaseException],
) -> None:
    # KeyboardInterrupt is what Ctrl-C raises in the harness's main thread mid-run.
    def explode(snapshot: LoadProgress) -> None:
        raise exc_type(f"callback failed at {snapshot.requests} requests")

    started = time.monotonic()
    with pytest.raises(exc_type, match="callback failed"):
        run_load(
            LoadSpec(
                server.url,
                requests=(RequestSpec(path="/ping"),),
                rate_rps=50.0,
                users=1,
                duration_s=60.0,
            ),
            progress=explode,
        )
    assert time.monotonic() - started < 20


def test_method_headers_body_and_expected_status_are_sent_as_specified(server: Server) -> None:
    create = RequestSpec(
        method="POST",
        path="/pods",
        headers=(("Authorization", "Bearer t"),),
        body='{"name": "p1"}',
        expect_status=(201,),
        weight=3,
    )
    spec = LoadSpec(
        server.url,
        requests=(create, RequestSpec(path="/ping")),
        rate_rps=0.0,
        users=2,
        duration_s=10.0,
        max_requests=200,
    )
    result = run_load(spec)
    assert result.failures == 0, result.errors
    assert server.hits["create_bad"] == 0
    assert result.requests == 200 == server.hits["create_ok"] + server.hits["ping"]
    # weight 3 : 1 -> about 150 creates; 5 standard deviations is about +-30
    assert 115 <= server.hits["create_ok"] <= 185


def test_a_server_slower_than_the_timeout_fails_each_request_but_each_starts_on_time(
    server: Server,
) -> None:
    # Every response takes 1.5 s and times out at 0.5 s. The open model does not wait for
    # them: each request starts at its intended time (at most 10 are out at once, under
    # max_in_flight), so the server sees all 20 and every one is a timeout.
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/slow?ms=1500"),),
        rate_rps=20.0,
        users=2,
        duration_s=1.0,
        request_timeout_s=0.5,
    )
    result = run_load(spec)
    assert result.requests == result.failures == 20
    poll_until("the server saw every request", lambda: server.hits["slow"] == 20, 5)
    assert result.dropped == 0
    assert set(result.errors) == {
        "GET /slow?ms=1500: timeout (no response within request_timeout_s)",
    }
    assert result.latency_ms["max"] >= 500.0


def test_the_hard_deadline_kills_a_run_that_overstays(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shrink the driver's grace so its deadline (duration + 2 x timeout + grace) is 3 s,
    # while the child believes it may run for 30 s.
    monkeypatch.setattr(harness.load.driver, "HARD_DEADLINE_GRACE_S", -29.0)
    spec = LoadSpec(
        server.url,
        requests=(RequestSpec(path="/ping"),),
        rate_rps=20.0,
        users=1,
        duration_s=30.0,
        request_timeout_s=1.0,
    )
    started = time.monotonic()
    with pytest.raises(LoadGeneratorError, match="hard deadline"):
        run_load(spec)
    assert time.monotonic() - started < 10
