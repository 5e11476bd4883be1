"""``python -m target_api``: serve the API in the foreground with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from target_api.app import create_app
from target_api.fastping import ping_protocol
from target_api.launch import LISTENING
from target_api.settings import SettingsError, load_settings, warn


class _Server(uvicorn.Server):
    """uvicorn's server, printing the listening line once it serves, and exiting with
    status 0 on SIGTERM/SIGINT (uvicorn re-raises the signal after a graceful stop,
    which would make a clean shutdown look like a crash to the caller)."""

    def __init__(self, config: uvicorn.Config, url: str, *, exit_with_parent: bool) -> None:
        super().__init__(config)
        self._url = url
        self._parent = os.getppid() if exit_with_parent else None

    async def on_tick(self, counter: int) -> bool:
        # --exit-with-parent: a launcher that died (even by SIGKILL) leaves no server behind
        if self._parent is not None and counter % 10 == 0 and os.getppid() != self._parent:
            warn("the process that started the API is gone: stopping")
            self.should_exit = True
        return await super().on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"{LISTENING}{self._url}", flush=True)  # what launchers wait for

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def on_signal(sig: int, frame: FrameType | None) -> None:
            self.handle_exit(sig, frame)

        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m target_api", description="Serve the Moonbase v0 reference API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("moonbase-data"), help="SQLite file, logs, token"
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop (gracefully) once the process that started the API has gone",
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    if not 0 <= args.port <= 65535:
        warn(f"invalid --port {args.port}: must be 0..65535")
        return 2
    try:
        settings = load_settings(args.data_dir, reap_orphans=True)
    except (SettingsError, OSError) as exc:
        warn(str(exc))
        return 2
    if settings.token_generated:
        warn(f"MOONBASE_API_TOKEN not set: generated one in {settings.data_dir / 'api-token'}")

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        warn(f"cannot bind {args.host}:{args.port}: {exc}")
        return 2
    sock.listen(2048)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=ping_protocol(app.counter),  # httptools, answering ping in the parser
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=10,
    )
    server = _Server(config, f"http://{shown_host}:{port}", exit_with_parent=args.exit_with_parent)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 3
