"""Persistence: SQLite by default, PostgreSQL when the URL says so."""

from __future__ import annotations

from pathlib import Path

from target_api.store.base import SqlStore, StoreError, StoreUnavailable
from target_api.store.records import AttachOutcome, JobRecord, PodRecord

__all__ = [
    "AttachOutcome",
    "JobRecord",
    "PodRecord",
    "SqlStore",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(database_url: str, attempts: int | None = None) -> SqlStore:
    """Connect to ``database_url`` (``sqlite:///path`` or ``postgresql://...``) and
    create the schema if needed. Raises StoreUnavailable when a database server does not
    answer after ``attempts`` tries (default: the store's own retry policy); the caller
    may try again later."""
    if database_url.startswith("sqlite:///"):
        from target_api.store.sqlite import SqliteStore

        return SqliteStore(Path(database_url.removeprefix("sqlite:///")))
    from target_api.store.postgres import PostgresStore

    return PostgresStore(database_url, connect_attempts=attempts)
