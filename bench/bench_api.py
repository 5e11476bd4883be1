"""Benchmarks of the reference API, each printed beside a baseline run in the same run.

    python bench/bench_api.py [--seconds 5] [--rounds 3] [--out bench/results/api.md]

- ping req/s on ONE core (server pinned to core 0, wrk pinned to core 1) against a
  bare FastAPI app and a bare Starlette app on the same uvicorn settings, and against
  the API's own ASGI ping path (what the protocol-level path saves);
- p99 latency at 1,000 req/s, open model (measured from each request's intended send
  time, so a stall cannot hide), against the bare Starlette app;
- RSS of the API after the load, against the bare FastAPI app;
- job submissions/s on SQLite (wrk POSTing jobs), against raw SQLite inserts with one
  commit each.

Every load is bounded in time and count and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from hdrh.histogram import HdrHistogram

from target_api.launch import api_argv

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token"
SERVER_CORE, CLIENT_CORE = "0", "1"
LISTEN = re.compile(r"listening on (http://\S+)")


# -- baseline apps (run with: python bench/bench_api.py --serve fastapi|starlette) -----


def _baseline_app(kind: str) -> object:
    if kind == "fastapi":
        from fastapi import FastAPI

        fast = FastAPI()

        @fast.get("/api/v0/ping")
        async def ping() -> dict[str, str]:
            return {"status": "ok"}

        return fast
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def star_ping(request: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/api/v0/ping", star_ping)])


def _serve_baseline(kind: str) -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"baseline listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        _baseline_app(kind),  # type: ignore[arg-type]
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


# -- processes ---------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    @property
    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 1e6


def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> Server:
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = LISTEN.search(line)
    if not match:
        process.kill()
        raise SystemExit(f"{name} did not start: {line!r}")
    return Server(name, process, match.group(1))


def wrk(url: str, seconds: int, connections: int = 64, script: Path | None = None) -> float:
    argv = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out or "Socket errors" in out:
        print(out, file=sys.stderr)  # errors make the figure suspect: show them
    if not match:
        raise SystemExit("wrk printed no Requests/sec")
    return float(match.group(1))


# -- open-model latency ------------------------------------------------------------------


async def _open_model(url: str, rate: float, seconds: float, connections: int) -> HdrHistogram:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET /api/v0/ping HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    histogram = HdrHistogram(1, 60_000_000, 3)  # microseconds, 1 us .. 60 s
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))
    loop = asyncio.get_running_loop()
    start_at = loop.time() + 0.1
    total = int(rate * seconds)

    async def one(intended: float) -> None:
        await asyncio.sleep(max(0.0, intended - loop.time()))
        reader, writer = await pool.get()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        # From the intended send time: waiting for a connection or a stall counts.
        histogram.record_value(max(1, int((loop.time() - intended) * 1e6)))
        pool.put_nowait((reader, writer))

    await asyncio.gather(*(one(start_at + i / rate) for i in range(total)))
    while not pool.empty():
        pool.get_nowait()[1].close()
    return histogram


def open_model(url: str, rate: float, seconds: float) -> HdrHistogram:
    """Latencies (us) of ping at ``rate`` for ``seconds``; the client pinned to its core."""
    os.sched_setaffinity(0, {int(CLIENT_CORE)})
    try:
        return asyncio.run(_open_model(url, rate, seconds, connections=32))
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def ms(histogram: HdrHistogram, percentile: float) -> float:
    return float(histogram.get_value_at_percentile(percentile)) / 1000


# -- jobs --------------------------------------------------------------------------------


def raw_sqlite_inserts_per_s(path: Path, n: int = 3000) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for i in range(n):
        conn.execute("INSERT INTO t VALUES (?, ?)", (f"{i:032x}", '["true"]'))
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


POST_LUA = """
wrk.method = "POST"
wrk.body = '{"command": ["true"], "timeout_s": 30}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


# -- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=["fastapi", "starlette"], help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per figure")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "api.md")
    args = parser.parse_args(argv)
    if args.serve:
        _serve_baseline(args.serve)
        return 0

    seconds = args.seconds
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="moonbase-bench-"))
    lines: list[str] = []

    def report(figure: str, ours: float, base: float, base_name: str, unit: str, goal: str) -> None:
        ratio = ours / base if base else float("nan")
        line = (
            f"| {figure} | {ours:,.1f} {unit} | {base_name}: {base:,.1f} {unit} | "
            f"{ratio:.2f}x | {goal} |"
        )
        print(line, flush=True)
        lines.append(line)

    api = start(
        "moonbase",
        api_argv(tmp / "api"),
        env={"MOONBASE_API_TOKEN": TOKEN},
    )
    fast = start("fastapi", [sys.executable, __file__, "--serve", "fastapi"])
    star = start("starlette", [sys.executable, __file__, "--serve", "starlette"])
    try:
        for server in (api, fast, star):  # warm-up
            httpx.get(f"{server.url}/api/v0/ping").raise_for_status()
            wrk(f"{server.url}/api/v0/ping", 2)
        # Rounds interleave the servers, so a burst of load from elsewhere on this
        # shared machine hits all of them alike; each figure is the median of its rounds.
        targets = {
            "moonbase": f"{api.url}/api/v0/ping",
            "moonbase-asgi": f"{api.url}/api/v0/ping?via=asgi",  # skips the protocol path
            "fastapi": f"{fast.url}/api/v0/ping",
            "starlette": f"{star.url}/api/v0/ping",
        }
        rps: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                rps[name].append(wrk(url, seconds))
        ping = {name: statistics.median(values) for name, values in rps.items()}
        print("| figure | moonbase | baseline | ratio | goal |\n|---|---|---|---|---|")
        report(
            "ping, one core",
            ping["moonbase"],
            ping["fastapi"],
            "FastAPI",
            "req/s",
            ">= 20,000 req/s",
        )
        report(
            "ping, one core",
            ping["moonbase"],
            ping["starlette"],
            "Starlette",
            "req/s",
            "(for scale)",
        )
        report(
            "ping, one core",
            ping["moonbase"],
            ping["moonbase-asgi"],
            "moonbase ASGI fast path",
            "req/s",
            "(protocol-level path's gain)",
        )

        ours, base = HdrHistogram(1, 60_000_000, 3), HdrHistogram(1, 60_000_000, 3)
        for _ in range(args.rounds):
            ours.add(open_model(api.url, 1000, seconds))
            base.add(open_model(star.url, 1000, seconds))
        report(
            f"ping p99 at 1,000 req/s open model (n={ours.total_count})",
            ms(ours, 99),
            ms(base, 99),
            f"Starlette (n={base.total_count})",
            "ms",
            "< 5 ms",
        )
        report(
            "ping p50 at 1,000 req/s open model",
            ms(ours, 50),
            ms(base, 50),
            "Starlette",
            "ms",
            "(for scale)",
        )

        script = tmp / "post.lua"
        script.write_text(POST_LUA % TOKEN)
        jobs_per_s = wrk(f"{api.url}/api/v0/jobs", seconds, connections=16, script=script)
        raw = raw_sqlite_inserts_per_s(tmp / "raw.sqlite3")
        report(
            "job submissions, SQLite",
            jobs_per_s,
            raw,
            "raw SQLite insert+commit",
            "jobs/s",
            ">= 500 jobs/s",
        )
        report("RSS after all the load", api.rss_mb, fast.rss_mb, "bare FastAPI", "MB", "< 150 MB")
    finally:
        for server in (api, fast, star):
            server.stop()

    machine = (
        f"{os.cpu_count()} cores shared with other work, load average {load_before:.1f} at the"
        f" start and {os.getloadavg()[0]:.1f} at the end"
    )
    text = "\n".join(
        [
            "# Moonbase API benchmark",
            "",
            f"Command: `python bench/bench_api.py --seconds {seconds} --rounds {args.rounds}`  ",
            f"Machine: {machine}; server pinned to core {SERVER_CORE}, client to core "
            f"{CLIENT_CORE} (taskset). Baselines run in the same run on the same uvicorn "
            "settings (httptools, uvloop, no access log).",
            "",
            "| figure | moonbase | baseline | ratio | goal |",
            "|---|---|---|---|---|",
            *lines,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
