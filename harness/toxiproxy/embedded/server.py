""":class:`EmbeddedToxiproxy`: the API server and its proxies on one loop in a daemon thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType

import uvicorn

from harness.errors import ToxiproxyUnavailable, UnsafeTargetError
from harness.toxiproxy.embedded.addresses import format_host_port, is_loopback_host
from harness.toxiproxy.embedded.api import create_app
from harness.toxiproxy.embedded.collection import ProxyCollection

__all__ = ["EmbeddedToxiproxy"]

_log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it comes with uvicorn[standard]): it moves bytes ~2x faster."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class EmbeddedToxiproxy:
    """A Toxiproxy-compatible server in this process, for when no real one is available.

    ``start()`` returns once the API is listening; ``url`` is then its base URL. Every
    Toxiproxy client (toxiproxy-python included) drives it unchanged. Upstreams and listen
    addresses outside loopback are refused with a 400 unless ``allow_non_loopback``.

    >>> with EmbeddedToxiproxy() as server:  # doctest: +SKIP
    ...     requests.post(server.url + "/proxies", json={...})
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_non_loopback: bool = False,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] = _new_loop,
    ) -> None:
        if not allow_non_loopback and not is_loopback_host(host):
            raise UnsafeTargetError(
                f"EmbeddedToxiproxy host {host!r} is not a loopback address; "
                "use 127.0.0.1 or pass allow_non_loopback=True (--allow-non-loopback)"
            )
        self.host = host
        self.port = port
        self.allow_non_loopback = allow_non_loopback
        self._loop_factory = loop_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._collection: ProxyCollection | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the API (the real port when started with port 0)."""
        if self.port == 0:
            raise ToxiproxyUnavailable("EmbeddedToxiproxy.url read before start() chose a port")
        host = "127.0.0.1" if self.host == "localhost" else self.host
        return "http://" + format_host_port(host, self.port)

    def start(self) -> EmbeddedToxiproxy:
        """Serve in a daemon thread; return once listening. Raises ToxiproxyUnavailable."""
        if self._thread is not None:
            return self
        self._ready.clear()
        self._error = None
        sock = self._bind()
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"embedded-toxiproxy:{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise ToxiproxyUnavailable(
                f"embedded Toxiproxy on {self.host}:{self.port} did not start: {self._error}"
            )
        return self

    def stop(self) -> None:
        """Close the API, every proxy listener and every connection; wait for the thread."""
        thread, loop, server = self._thread, self._loop, self._server
        if thread is None:
            return
        if loop is not None and server is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended between check and call
                loop.call_soon_threadsafe(self._shutdown)
        thread.join(_STOP_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> EmbeddedToxiproxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- loop thread -------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1" if self.host == "localhost" else self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ToxiproxyUnavailable(
                f"embedded Toxiproxy cannot listen on {self.host}:{self.port}: {exc.strerror}; "
                "pick a free port or port 0"
            ) from exc
        sock.listen(128)
        return sock

    def _run(self, sock: socket.socket) -> None:
        loop = self._loop_factory()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            if self._ready.is_set():
                _log.error("embedded Toxiproxy on port %s stopped", self.port, exc_info=exc)
        finally:
            if self._collection is not None:
                self._collection.shutdown()
            _cancel_all(loop)
            loop.close()
            self._ready.set()

    async def _serve(self, sock: socket.socket) -> None:
        self._collection = ProxyCollection(allow_non_loopback=self.allow_non_loopback)
        config = uvicorn.Config(
            create_app(self._collection),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # no websockets: fewer imports, nothing to warn in this thread
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        serving = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started and not serving.done():
            await asyncio.sleep(0.005)  # uvicorn offers no started event; poll its flag
        if serving.done():
            serving.result()  # raise what stopped it
            raise ToxiproxyUnavailable("embedded Toxiproxy API stopped while starting")
        self._ready.set()
        await serving

    def _shutdown(self) -> None:
        if self._collection is not None:
            self._collection.shutdown()
        if self._server is not None:
            self._server.should_exit = True


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
