"""What the app holds while it runs: settings, metrics, the store and the director."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from target_api.director import Director
from target_api.metrics import ApiMetrics
from target_api.settings import Settings, warn
from target_api.store import SqlStore, StoreUnavailable, open_store

RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 5.0


@dataclass(slots=True)
class AppState:
    """The store and the director exist together or not at all. When the database does
    not answer at start, the API serves anyway (live, but not ready: every call that
    needs the database gets 503) and keeps connecting in the background."""

    settings: Settings
    metrics: ApiMetrics
    store: SqlStore | None = None
    director: Director | None = None
    stopping: bool = field(default=False)
    unavailable: str | None = None  # why the store is not open yet, while connecting
    _connector: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        try:
            await self._open()
        except StoreUnavailable as exc:
            self._lost(exc, first=True)
            self._connector = asyncio.create_task(self._keep_connecting(), name="db-connect")

    async def _open(self, attempts: int | None = None) -> None:
        store = await run_in_threadpool(open_store, self.settings.database_url, attempts)
        if self.stopping:  # stop() came while this attempt ran in its thread
            await run_in_threadpool(store.close)
            return
        director = Director(self.settings, store, self.metrics)
        try:
            await director.start()
        except BaseException:
            await run_in_threadpool(store.close)
            raise
        self.store, self.director, self.unavailable = store, director, None

    def _lost(self, exc: StoreUnavailable, *, first: bool = False) -> None:
        changed = self.unavailable != str(exc)
        self.unavailable = str(exc)
        if first or changed:
            warn(f"database unavailable, serving not-ready and retrying: {exc}")

    async def _keep_connecting(self) -> None:
        delay = RECONNECT_FIRST_S
        while not self.stopping:
            with contextlib.suppress(TimeoutError):  # jitter: no herd of APIs reconnecting
                await asyncio.wait_for(self._wake.wait(), random.uniform(delay / 2, delay))
            if self.stopping:
                return
            try:
                await self._open(attempts=1)  # this loop is the retry
            except StoreUnavailable as exc:
                self._lost(exc)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            if self.store is not None:
                warn("database connected: ready")
            return

    async def stop(self) -> None:
        self.stopping = True
        if self._connector is not None:
            # Not cancelled: an attempt in flight (one try, bounded by the connect
            # timeout) finishes and closes what it opened, instead of leaking it.
            self._wake.set()
            await self._connector
        if self.director is not None:
            await self.director.stop()
        if self.store is not None:
            await run_in_threadpool(self.store.close)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.moonbase
    return state
