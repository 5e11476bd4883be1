"""Measure the generator's noise floor: the load's own spec, pointed at the null server.

:func:`measure_floor` starts :mod:`harness.load.null_server` as a child process (its own
core, its own GIL), runs the same client, users, rate and processes as the load for a
bounded few seconds against it with :func:`harness.load.driver.run_load`, and ends the
server by its PID. Only three things differ from the load: the URL, the duration (no count
bound), and the statuses expected (the null server answers 200 to every request, so every
request of the mix expects 200; the client's work per request is unchanged).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from harness.errors import LoadGeneratorError
from harness.floor import GeneratorFloor
from harness.load.driver import run_load
from harness.load.histogram import decode_histogram
from harness.load.null_server import STATUS
from harness.load.percentiles import percentile_estimate
from harness.load.result import LoadResult
from harness.load.spec import LoadSpec

__all__ = [
    "NULL_SERVER_START_S",
    "floor_from_result",
    "floor_spec",
    "measure_floor",
    "null_server",
]

# Python start-up and the import of the harness package, on a busy two-core machine.
NULL_SERVER_START_S = 30.0
_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def floor_spec(spec: LoadSpec, url: str, duration_s: float) -> LoadSpec:
    """``spec`` as the calibration runs it: against ``url`` for ``duration_s``; a load in
    stages is calibrated at its peak (the rate, or the users, of its highest stage)."""
    if spec.stages:
        if spec.stages[0].rate_rps is not None:
            peak = max(st.rate_rps or 0.0 for st in spec.stages)
            spec = dataclasses.replace(spec, rate_rps=peak)
        else:
            spec = dataclasses.replace(spec, users=max(1, *(st.users or 0 for st in spec.stages)))
    return dataclasses.replace(
        spec,
        stages=(),
        live_progress=False,
        expect_workers=0,  # the floor runs here, never on workers elsewhere
        master_bind=None,
        target_url=url,
        duration_s=duration_s,
        max_requests=None,
        allow_non_loopback=False,
        requests=tuple(dataclasses.replace(r, expect_status=(STATUS,)) for r in spec.requests),
    )


def floor_from_result(result: LoadResult, server: str) -> GeneratorFloor:
    """The floor read off a calibration run's merged histogram."""
    histogram = decode_histogram(result.histogram)
    return GeneratorFloor(
        percentiles={k: percentile_estimate(histogram, q) for k, q in _QUANTILES.items()},
        requests=result.requests,
        failures=result.failures,
        duration_s=result.duration_s,
        rps=result.rps,
        intended_rate_rps=result.intended_rate_rps,
        users=result.users,
        processes=result.processes,
        model=result.model,
        server=server,
        max_ms=float(result.latency_ms.get("max", 0.0)),
        workers_expected=result.workers_expected,
    )


def _read_ready(stdout: IO[str], timeout_s: float) -> int | None:
    """The port from the server's ready line, or None if it gave none in time."""
    found: list[int] = []

    def read() -> None:
        line = stdout.readline()
        try:
            found.append(int(json.loads(line)["port"]))
        except (ValueError, KeyError, TypeError):
            pass

    reader = threading.Thread(target=read, daemon=True, name="null-server-ready")
    reader.start()
    reader.join(timeout_s)
    return found[0] if found else None


@contextmanager
def null_server(max_s: float) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The null server as a child of this process, for at most ``max_s``: yields the
    process and its URL on 127.0.0.1, and ends it by its PID on the way out. It also ends
    by itself when its stdin closes (our death closes it)."""
    errors = tempfile.TemporaryFile("w+", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.load.null_server", "--max-s", repr(max_s)],
        stdin=subprocess.PIPE,  # closed by us, or by our death: the server then stops
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        port = _read_ready(server.stdout, NULL_SERVER_START_S)
        if port is None:
            _stop(server)
            errors.seek(0)
            err = errors.read()
            raise LoadGeneratorError(
                f"the null server did not start within {NULL_SERVER_START_S:.0f} s "
                f"(exit {server.poll()}): {err[-2000:]}"
            )
        yield server, f"http://127.0.0.1:{port}"
    finally:
        _stop(server)
        errors.close()


def measure_floor(
    spec: LoadSpec, duration_s: float, *, say: Callable[[str], None] | None = None
) -> GeneratorFloor:
    """Run ``spec``'s client, users and rate for ``duration_s`` against a null server."""
    with null_server(duration_s + 300.0) as (_, url):
        if say is not None:
            say(f"load: measuring the generator's floor for {duration_s:g} s against {url}")
        result = run_load(floor_spec(spec, url, duration_s))
        try:
            import uvloop  # noqa: F401  (only to name what served)

            loop = "uvloop"
        except ImportError:
            loop = "asyncio"
        return floor_from_result(result, f"null server ({loop}) on {url.removeprefix('http://')}")


def _stop(server: subprocess.Popen[str]) -> None:
    """End the null server this module started, by its PID."""
    if server.poll() is None:
        server.terminate()
    try:
        server.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5.0)
    for stream in (server.stdin, server.stdout, server.stderr):
        if stream is not None:
            stream.close()
