"""Throughput and added latency of the embedded Toxiproxy against the real one, same run.

    python bench/bench_proxy.py [--seconds 3] [--rounds 3] [--pings 2000] [--toxic]
                                [--markdown FILE]

Both servers run as their own processes (the embedded one through its CLI) with no
toxics. Throughput: one connection reads from an upstream that writes as fast as it can,
for ``--seconds``; the median of ``--rounds``. Latency: ``--pings`` 64-byte round trips
to an echo upstream over one connection, direct and through each proxy; the added p50 is
proxy p50 minus direct p50. Everything is on 127.0.0.1 and bounded in time and count.
Goals: embedded throughput >= 50% of real; embedded added p50 < 0.5 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

CHUNK = bytes(1 << 20)
PING = b"p" * 64
START_TIMEOUT_S = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before answering {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/version", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"no answer from {url} within {START_TIMEOUT_S}s")


@contextlib.contextmanager
def _process(command: list[str], url: str) -> Iterator[str]:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        _wait_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def real_server() -> Iterator[str | None]:
    """The real Toxiproxy: TOXIPROXY_URL, toxiproxy-server on PATH, or the one
    `./moonbase setup` builds into .toolcache/bin (never a file an earlier run left in /tmp)."""
    url = os.environ.get("TOXIPROXY_URL")
    if url:
        yield url
        return
    binary = shutil.which("toxiproxy-server")
    built = Path(__file__).resolve().parents[1] / ".toolcache" / "bin" / "toxiproxy-server"
    if binary is None and built.is_file():
        binary = str(built)
    if binary is None:
        yield None
        return
    port = _free_port()
    command = [binary, "-host", "127.0.0.1", "-port", str(port)]
    with _process(command, f"http://127.0.0.1:{port}") as started:
        yield started


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """The embedded server, in its own process like the real one."""
    port = _free_port()
    command = [sys.executable, "-m", "harness.toxiproxy.embedded", "--port", str(port)]
    with _process(command, f"http://127.0.0.1:{port}") as started:
        yield started


class Upstream:
    """A threaded TCP upstream on 127.0.0.1:0: ``source`` streams bytes, ``echo`` echoes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError), conn:
            if self.mode == "source":
                while not self.stop.is_set():  # ends when the reader closes (EPIPE/ECONNRESET)
                    conn.sendall(CHUNK)
            else:
                while data := conn.recv(65536):
                    conn.sendall(data)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _proxy(api_url: str, name: str, upstream: str) -> int:
    body = {"name": name, "upstream": upstream, "listen": "127.0.0.1:0"}
    response = requests.post(api_url + "/proxies", json=body, timeout=5)
    response.raise_for_status()
    return int(response.json()["listen"].rsplit(":", 1)[1])


def throughput_bps(port: int, seconds: float) -> float:
    """Bytes per second read from 127.0.0.1:port during ``seconds``."""
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    total = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        deadline = started + seconds
        while (now := time.perf_counter()) < deadline:
            received = sock.recv_into(view)
            if received == 0:
                break
            total += received
        return total / (now - started)


def round_trips_s(port: int, count: int) -> list[float]:
    """``count`` 64-byte round trips over one connection, each timed."""
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(50):  # warm-up, not measured
            sock.sendall(PING)
            _recv_exactly(sock, len(PING))
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(PING)
            _recv_exactly(sock, len(PING))
            times.append(time.perf_counter() - started)
    return times


def _recv_exactly(sock: socket.socket, size: int) -> None:
    got = 0
    while got < size:
        piece = sock.recv(size - got)
        if not piece:
            raise ConnectionError("echo upstream closed early")
        got += len(piece)


@dataclass(frozen=True, slots=True)
class Result:
    """One server's numbers."""

    name: str
    throughput_bps: float
    p50_ms: float
    p99_ms: float


def _quantile_ms(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(
    name: str,
    api_url: str,
    source: Upstream,
    echo: Upstream,
    args: argparse.Namespace,
    toxic: bool = False,
) -> Result:
    """Throughput (median of rounds) and round-trip quantiles through one server.

    With ``toxic``, both proxies carry a zero latency toxic: the bytes take the toxic
    pipeline (queue and stages) instead of the direct path, at no added delay.
    """
    suffix = "_toxic" if toxic else ""
    stream_port = _proxy(api_url, "bench_stream" + suffix, source.address)
    echo_port = _proxy(api_url, "bench_echo" + suffix, echo.address)
    if toxic:
        for proxy in ("bench_stream" + suffix, "bench_echo" + suffix):
            url = f"{api_url}/proxies/{proxy}/toxics"
            body = {"type": "latency", "attributes": {"latency": 0}}
            requests.post(url, json=body, timeout=5).raise_for_status()
    rates = [throughput_bps(stream_port, args.seconds) for _ in range(args.rounds)]
    times = round_trips_s(echo_port, args.pings)
    return Result(
        name, statistics.median(rates), _quantile_ms(times, 0.5), _quantile_ms(times, 0.99)
    )


def main() -> int:
    """Run the benchmark; print (and optionally write) a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per server")
    parser.add_argument("--pings", type=int, default=2000, help="round trips per server")
    parser.add_argument(
        "--toxic", action="store_true", help="also measure with a zero latency toxic on each proxy"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    source, echo = Upstream("source"), Upstream("echo")
    try:
        direct_times = round_trips_s(int(echo.address.rsplit(":", 1)[1]), args.pings)
        direct = Result(
            "direct",
            float("nan"),
            _quantile_ms(direct_times, 0.5),
            _quantile_ms(direct_times, 0.99),
        )
        results = [direct]
        with real_server() as real_url:
            if real_url is None:
                print("no real Toxiproxy found: measuring the embedded one alone", file=sys.stderr)
            else:
                results.append(measure("real toxiproxy", real_url, source, echo, args))
                if args.toxic:
                    label = "real, latency 0 toxic"
                    results.append(measure(label, real_url, source, echo, args, toxic=True))
        with embedded_server() as embedded_url:
            results.append(measure("embedded", embedded_url, source, echo, args))
            if args.toxic:
                label = "embedded, latency 0 toxic"
                results.append(measure(label, embedded_url, source, echo, args, toxic=True))
    finally:
        source.close()
        echo.close()
    lines = [
        "| path | throughput MB/s | round trip p50 ms | p99 ms | added p50 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        rate = "-" if result.name == "direct" else f"{result.throughput_bps / 1e6:.0f}"
        added = result.p50_ms - direct.p50_ms
        lines.append(
            f"| {result.name} | {rate} | {result.p50_ms:.3f} | {result.p99_ms:.3f} | {added:+.3f} |"
        )
    by_name = {result.name: result for result in results}
    embedded = by_name["embedded"]
    summary = [f"embedded added p50: {embedded.p50_ms - direct.p50_ms:.3f} ms (goal < 0.5 ms)"]
    if "real toxiproxy" in by_name:
        ratio = embedded.throughput_bps / by_name["real toxiproxy"].throughput_bps
        summary.append(f"embedded throughput / real: {ratio:.0%} (goal >= 50%)")
    text = "\n".join(lines + [""] + [f"- {line}" for line in summary]) + "\n"
    print(text, end="")
    if args.markdown is not None:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
