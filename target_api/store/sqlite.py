"""The SQLite store: one file, WAL, a busy timeout, one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from target_api.store.base import SqlStore

BUSY_TIMEOUT_MS = 5000  # a writer waits this long for the lock before "database is locked"


class SqliteStore(SqlStore):
    """WAL lets readers run beside the one writer; ``synchronous=NORMAL`` in WAL mode
    loses nothing when the process is killed (only a power cut can lose the last
    commits), which is the durability the API promises."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False
        self.migrate()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise sqlite3.ProgrammingError("the store is closed")
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # autocommit: every statement is its own transaction
            check_same_thread=False,  # close() runs on another thread
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[int, list[tuple[Any, ...]]]:
        cursor = self._connection().execute(sql, tuple(params))
        try:
            rows = cursor.fetchall()
            return cursor.rowcount, rows
        finally:
            cursor.close()

    def _is_transient(self, exc: BaseException) -> bool:
        if not isinstance(exc, sqlite3.OperationalError):
            return False
        message = str(exc).lower()
        return "locked" in message or "busy" in message

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
