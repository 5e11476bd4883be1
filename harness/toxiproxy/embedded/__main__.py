"""``python -m harness.toxiproxy.embedded``: serve the embedded Toxiproxy in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from harness.errors import HarnessError
from harness.toxiproxy.embedded.server import EmbeddedToxiproxy


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; exit 0 then, 2 on a refused address, 4 if it cannot start."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.toxiproxy.embedded",
        description="A Toxiproxy-compatible fault-injection proxy (HTTP API on --host:--port).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port; 0 picks a free one")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow upstreams and listen addresses outside 127.0.0.0/8 and ::1",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = EmbeddedToxiproxy(
            host=args.host, port=args.port, allow_non_loopback=args.allow_non_loopback
        ).start()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    print(f"toxiproxy-compatible API listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):  # a bounded wait keeps signals deliverable to this thread
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
