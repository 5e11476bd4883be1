"""The PostgreSQL store: psycopg 3 with psycopg_pool, connection and statement timeouts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from target_api.store.base import SCHEMA, SqlStore, StoreError, StoreUnavailable

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 10_000  # no statement of ours should take a second; ten is broken
POOL_SIZE = 8
CHECKOUT_TIMEOUT_S = 10.0

MIGRATION_LOCK_ID = 0x6D6F6F6E  # "moon": any constant all our servers agree on
_PLACEHOLDER = re.compile(r"\?")


def _one_line(exc: BaseException) -> str:
    """psycopg's messages run over several lines (with hints); the first says it."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class PostgresStore(SqlStore):
    """Connections come from a psycopg_pool pool (opened lazily up to ``POOL_SIZE``), one
    per statement; the pool drops a connection that broke, so a restarted server costs one
    retried statement, not a poisoned pool."""

    dialect = "postgresql"

    def __init__(
        self, url: str, *, pool_size: int = POOL_SIZE, connect_attempts: int | None = None
    ) -> None:
        self.url = url
        self._closed = False
        try:
            self.migrate(connect_attempts or self.max_tries)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(_one_line(exc)) from exc
        self._pool = ConnectionPool(
            url,
            min_size=0,
            max_size=pool_size,
            timeout=CHECKOUT_TIMEOUT_S,
            kwargs=self._connect_kwargs(),
            name="moonbase-api",
            open=True,
        )

    def _connect_kwargs(self) -> dict[str, Any]:
        # Keep options the URL carries (e.g. a search_path) and add the statement timeout.
        given = conninfo_to_dict(self.url).get("options") or ""
        return {
            "autocommit": True,  # every statement is its own transaction
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"{given} -c statement_timeout={STATEMENT_TIMEOUT_MS}".strip(),
            "application_name": "moonbase-api",
        }

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, **self._connect_kwargs())

    def migrate(self, attempts: int | None = None) -> None:
        # CREATE TABLE IF NOT EXISTS races with itself (a unique violation in pg_type)
        # when two servers start together: one at a time, under an advisory lock.
        @retry(
            retry=retry_if_exception(self._is_transient),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
            stop=stop_after_attempt(attempts or self.max_tries),
            reraise=True,
        )
        def attempt() -> None:
            with self._connect() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
                for statement in SCHEMA:
                    conn.execute(statement)

        attempt()

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[int, list[tuple[Any, ...]]]:
        if self._closed:
            raise StoreError("the store is closed")
        try:
            with self._pool.connection() as conn, conn.cursor() as cursor:
                cursor.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))
                rows = cursor.fetchall() if cursor.description is not None else []
                return cursor.rowcount, rows
        except PoolTimeout:
            raise StoreError(f"no database connection free within {CHECKOUT_TIMEOUT_S} s") from None

    def _is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
            return True
        # OperationalError: connection refused/reset, server restarting, timeouts.
        return isinstance(exc, psycopg.OperationalError) and not isinstance(
            exc, psycopg.errors.QueryCanceled
        )

    def close(self) -> None:
        self._closed = True
        self._pool.close()
