"""What the app holds while it runs: settings, metrics, the store and the director."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from target_api.director import Director
from target_api.metrics import ApiMetrics
from target_api.settings import Settings
from target_api.store import SqlStore, open_store


@dataclass(slots=True)
class AppState:
    settings: Settings
    metrics: ApiMetrics
    store: SqlStore | None = None
    director: Director | None = None
    stopping: bool = field(default=False)

    async def start(self) -> None:
        self.store = await run_in_threadpool(open_store, self.settings.database_url)
        self.director = Director(self.settings, self.store, self.metrics)
        await self.director.start()

    async def stop(self) -> None:
        self.stopping = True
        if self.director is not None:
            await self.director.stop()
        if self.store is not None:
            await run_in_threadpool(self.store.close)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.moonbase
    return state
