"""The JobDirector: runs pods' stacks and jobs on a runtime, and heals them."""

from __future__ import annotations

from typing import Any

from target_api.director.breaker import BreakerBoard
from target_api.metrics import ApiMetrics
from target_api.settings import Settings
from target_api.store import SqlStore

__all__ = ["Director"]


class Director:
    def __init__(self, settings: Settings, store: SqlStore, metrics: ApiMetrics) -> None:
        self.breakers = BreakerBoard(metrics)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}
