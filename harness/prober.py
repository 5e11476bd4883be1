"""The whole-run prober: a process of its own that watches the target for a whole gate.

``python -m harness.prober --url URL --out FILE [--path P] [--status 200] [--interval-s 0.1]
[--timeout-s 1] [--max-s N]`` sends one probe every ``interval_s`` (a fresh connection each
time, as a new client would): a GET on ``path`` answering one of ``status``, or a TCP connect
when no path is given. Each probe is one JSON line, written and flushed at once (a killed
prober loses nothing it recorded): ``{"t": epoch seconds, "ok": bool, "ms": latency,
"why": what failed}``. It stops on SIGTERM or SIGINT, when its parent dies, and after
``max_s`` seconds at the latest: every loop here is bounded.

:class:`WholeRunProber` starts it (independent of Locust and of the harness's own threads,
so a busy harness does not become an outage), restarts it if it dies (the gap is reported
as not observed, never as uptime) and reads its timeline back.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the child imports nothing it does not need
    from harness.processes import ManagedProcess

__all__ = ["ProbeLine", "WholeRunProber", "main", "read_timeline"]


def _probe_http(url: str, statuses: set[int], timeout_s: float) -> str | None:
    import http.client

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        conn.request("GET", parts.path or "/")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        conn.close()
    return None if status in statuses else f"HTTP {status}"


def _probe_tcp(url: str, timeout_s: float) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


_stop = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _stop
    _stop = True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.prober")
    parser.add_argument("--url", required=True, help="the target's base URL (loopback)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to append to")
    parser.add_argument("--path", default=None, help="GET this path; absent: a TCP connect")
    parser.add_argument("--status", type=int, action="append", default=None)
    parser.add_argument("--interval-s", type=float, default=0.1)
    parser.add_argument("--timeout-s", type=float, default=1.0)
    parser.add_argument("--max-s", type=float, default=6 * 3600.0)
    args = parser.parse_args(argv)
    from harness.netguard import ensure_loopback_url

    url = ensure_loopback_url(args.url, where="--url")
    statuses = set(args.status or [200])
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    parent = os.getppid()
    start = time.monotonic()
    next_at = start
    with open(args.out, "a", encoding="utf-8") as out:
        while not _stop and time.monotonic() - start < args.max_s and os.getppid() == parent:
            wall, t0 = time.time(), time.monotonic()
            if args.path:
                why = _probe_http(url + args.path, statuses, args.timeout_s)
            else:
                why = _probe_tcp(url, args.timeout_s)
            ms = round((time.monotonic() - t0) * 1000, 3)
            line = {"t": round(wall, 4), "ok": why is None, "ms": ms, "why": why}
            out.write(json.dumps(line) + "\n")
            out.flush()
            next_at += args.interval_s
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing to the probe schedule, not synchronisation
            else:
                next_at = time.monotonic()  # a slow probe: the schedule restarts from now
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------- the harness's side


class ProbeLine:
    """One probe as the prober recorded it."""

    __slots__ = ("ms", "ok", "t", "why")

    def __init__(self, t: float, ok: bool, ms: float, why: str | None) -> None:
        self.t, self.ok, self.ms, self.why = t, ok, ms, why


def read_timeline(path: Path) -> tuple[ProbeLine, ...]:
    """The probes in ``path``; a line cut short by a kill is left out (it is the last)."""
    if not path.exists():
        return ()
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            d = json.loads(raw)
            lines.append(ProbeLine(float(d["t"]), bool(d["ok"]), float(d["ms"]), d.get("why")))
        except (ValueError, KeyError, TypeError):
            continue
    return tuple(lines)


class WholeRunProber:
    """The prober child for one run: started, kept alive, stopped, read back.

    A watchdog thread restarts a prober that died (at most ``max_restarts`` times); the time
    it was away is a gap in the timeline, which :mod:`harness.availability` does not count as
    observed. Always stopped by its PID (its own process group) on exit.
    """

    def __init__(
        self,
        url: str,
        out: Path,
        *,
        path: str | None,
        statuses: Sequence[int] = (200,),
        interval_s: float = 0.1,
        timeout_s: float = 1.0,
        max_s: float = 6 * 3600.0,
        max_restarts: int = 5,
    ) -> None:
        self.out = out
        self.interval_s = interval_s
        self.restarts = 0
        self._max_restarts = max_restarts
        self._argv = [sys.executable, "-m", "harness.prober", "--url", url, "--out", str(out)]
        self._argv += ["--interval-s", str(interval_s), "--timeout-s", str(timeout_s)]
        self._argv += ["--max-s", str(max_s)]
        if path:
            self._argv += ["--path", path, *[f"--status={s}" for s in statuses]]
        self._process: ManagedProcess | None = None
        self._stopping = False
        self._watchdog: threading.Thread | None = None
        self.started_at = 0.0

    def _spawn(self) -> None:
        from harness.processes import ManagedProcess

        process = ManagedProcess("prober", self._argv)
        process.start()
        process.drain()
        self._process = process

    def _watch(self) -> None:
        while not self._stopping:
            time.sleep(0.5)  # the watchdog's own pace; it ends when the run stops the prober
            process = self._process
            if (
                process is not None
                and not process.alive()
                and not self._stopping
                and self.restarts < self._max_restarts
            ):
                self.restarts += 1
                process.stop()  # reaps it and closes its pipe
                self._spawn()

    def start(self) -> WholeRunProber:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        self._spawn()
        watchdog = threading.Thread(target=self._watch, name="prober-watchdog", daemon=True)
        watchdog.start()
        self._watchdog = watchdog
        return self

    def stop(self) -> tuple[ProbeLine, ...]:
        """Stop the prober (and its watchdog); the timeline it recorded."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.join(timeout=5.0)
        if self._process is not None:
            self._process.stop()
        return read_timeline(self.out)

    def __enter__(self) -> WholeRunProber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
