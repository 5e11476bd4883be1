"""The store: one interface over SQLite and PostgreSQL.

Both dialects run the same SQL (``?`` placeholders, rewritten for psycopg). Every
statement runs on its own and is atomic; a change that must not race (attaching a
stack, claiming a job, moving a job between states) is one conditional UPDATE, so two
concurrent requests cannot both win, whatever the database. Transient errors (a
locked SQLite file, a dropped PostgreSQL connection) are retried with exponential
backoff and jitter; ids are chosen before the first try, so a retried INSERT is safe.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any

from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from target_api.exceptions import MoonbaseError
from target_api.store.records import (
    JOB_COLUMNS,
    POD_COLUMNS,
    AttachOutcome,
    JobRecord,
    PodRecord,
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pods (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        stack_json TEXT,
        stack_hash TEXT,
        restart_policy TEXT NOT NULL,
        restarts INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        request_hash TEXT NOT NULL,
        command_json TEXT NOT NULL,
        env_json TEXT NOT NULL,
        timeout_s DOUBLE PRECISION NOT NULL,
        max_attempts INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        exit_code INTEGER,
        error TEXT,
        owner TEXT,
        handle_ref TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_state_created ON jobs (state, created_at)",
    # One row per director that shares this database: a running job whose director has
    # not been seen for a lease is taken over by another (see JobRunner.adopt).
    """CREATE TABLE IF NOT EXISTS directors (
        id TEXT PRIMARY KEY,
        heartbeat_at DOUBLE PRECISION NOT NULL
    )""",
)

_POD_SELECT = f"SELECT {', '.join(POD_COLUMNS)} FROM pods"
_JOB_SELECT = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"


class StoreError(MoonbaseError, RuntimeError):
    """The database failed in a way a retry did not cure."""


class StoreUnavailable(StoreError):
    """The database server could not be reached (or refused us) while opening the store:
    a condition that may pass, unlike a bad URL or an unwritable SQLite file."""


class SqlStore(abc.ABC):
    """The operations the API and the director need, in portable SQL."""

    dialect: str = ""
    max_tries: int = 6
    max_retry_s: float = 10.0

    # -- what a dialect provides -------------------------------------------------------

    @abc.abstractmethod
    def _run(self, sql: str, params: Sequence[Any]) -> tuple[int, list[tuple[Any, ...]]]:
        """Run one statement in its own transaction: (rowcount, rows)."""

    @abc.abstractmethod
    def _is_transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` may pass if the statement is tried again."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release every connection; idempotent."""

    # -- plumbing ----------------------------------------------------------------------

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, list[tuple[Any, ...]]]:
        @retry(
            retry=retry_if_exception(self._is_transient),
            wait=wait_exponential_jitter(multiplier=0.01, max=1.0, jitter=0.05),
            stop=stop_after_attempt(self.max_tries) | stop_after_delay(self.max_retry_s),
            reraise=True,
        )
        def attempt() -> tuple[int, list[tuple[Any, ...]]]:
            return self._run(sql, params)

        return attempt()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._exec(sql, params)[1]

    def migrate(self) -> None:
        for statement in SCHEMA:
            self._exec(statement)

    def ping(self) -> None:
        """Raise if the database does not answer."""
        self._rows("SELECT 1")

    # -- pods --------------------------------------------------------------------------

    def insert_pod(self, pod: PodRecord) -> bool:
        """Insert ``pod``; False when its name is taken."""
        placeholders = ", ".join("?" for _ in POD_COLUMNS)
        count, _ = self._exec(
            f"INSERT INTO pods ({', '.join(POD_COLUMNS)}) VALUES ({placeholders})"
            " ON CONFLICT DO NOTHING",
            [getattr(pod, c) for c in POD_COLUMNS],
        )
        if count == 1:
            return True
        # A retried INSERT that had committed finds its own row: that is success too.
        existing = self.get_pod(pod.id)
        return existing is not None

    def get_pod(self, pod_id: str) -> PodRecord | None:
        rows = self._rows(f"{_POD_SELECT} WHERE id = ?", [pod_id])
        return PodRecord(*rows[0]) if rows else None

    def list_pods(self, states: Iterable[str] | None = None) -> list[PodRecord]:
        if states is None:
            rows = self._rows(f"{_POD_SELECT} ORDER BY created_at")
        else:
            wanted = list(states)
            marks = ", ".join("?" for _ in wanted)
            rows = self._rows(f"{_POD_SELECT} WHERE state IN ({marks}) ORDER BY created_at", wanted)
        return [PodRecord(*r) for r in rows]

    def attach_stack(
        self,
        pod_id: str,
        stack_json: str,
        stack_hash: str,
        *,
        from_states: Sequence[str],
        to_state: str,
        owner: str,
        now: float,
    ) -> AttachOutcome:
        """Give the pod this stack if it has none: one conditional UPDATE, so of two
        concurrent attaches exactly one wins."""
        marks = ", ".join("?" for _ in from_states)
        count, _ = self._exec(
            "UPDATE pods SET stack_json = ?, stack_hash = ?, state = ?, owner = ?, updated_at = ?"
            f" WHERE id = ? AND stack_hash IS NULL AND state IN ({marks})",
            [stack_json, stack_hash, to_state, owner, now, pod_id, *from_states],
        )
        if count == 1:
            return AttachOutcome.ATTACHED
        pod = self.get_pod(pod_id)
        if pod is None or pod.stack_hash is None:
            return AttachOutcome.MISSING
        return AttachOutcome.SAME if pod.stack_hash == stack_hash else AttachOutcome.DIFFERENT

    def move_pod(
        self, pod_id: str, from_states: Sequence[str], to_state: str, now: float, *, restarted: bool
    ) -> bool:
        """Compare-and-set the pod's state; False when it was in none of ``from_states``."""
        marks = ", ".join("?" for _ in from_states)
        count, _ = self._exec(
            f"UPDATE pods SET state = ?, updated_at = ?, restarts = restarts + ?"
            f" WHERE id = ? AND state IN ({marks})",
            [to_state, now, 1 if restarted else 0, pod_id, *from_states],
        )
        return count == 1

    def delete_pod(self, pod_id: str) -> bool:
        count, _ = self._exec("DELETE FROM pods WHERE id = ?", [pod_id])
        return count == 1

    # -- jobs --------------------------------------------------------------------------

    def submit_job(self, job: JobRecord) -> tuple[JobRecord, bool]:
        """Insert ``job`` unless its idempotency key is known: (the job, created)."""
        placeholders = ", ".join("?" for _ in JOB_COLUMNS)
        count, _ = self._exec(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({placeholders})"
            " ON CONFLICT DO NOTHING",
            [getattr(job, c) for c in JOB_COLUMNS],
        )
        if count == 1:
            return job, True
        mine = self.get_job(job.id)
        if mine is not None:  # a retried INSERT that had committed
            return mine, True
        if job.idempotency_key is not None:
            rows = self._rows(f"{_JOB_SELECT} WHERE idempotency_key = ?", [job.idempotency_key])
            if rows:
                return JobRecord(*rows[0]), False
        raise StoreError(f"job {job.id} was neither inserted nor found")

    def get_job(self, job_id: str) -> JobRecord | None:
        rows = self._rows(f"{_JOB_SELECT} WHERE id = ?", [job_id])
        return JobRecord(*rows[0]) if rows else None

    def list_jobs(
        self, states: Sequence[str], *, owner: str | None = None, limit: int = 1000
    ) -> list[JobRecord]:
        marks = ", ".join("?" for _ in states)
        sql = f"{_JOB_SELECT} WHERE state IN ({marks})"
        params: list[Any] = list(states)
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        sql += " ORDER BY created_at LIMIT ?"
        params.append(limit)
        return [JobRecord(*r) for r in self._rows(sql, params)]

    def update_job(
        self,
        job_id: str,
        from_states: Sequence[str],
        *,
        owned_by: str | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set: change ``fields`` only if the job is in one of ``from_states``
        (and, with ``owned_by``, still belongs to that director)."""
        unknown = set(fields) - set(JOB_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        sets = ", ".join(f"{name} = ?" for name in fields)
        marks = ", ".join("?" for _ in from_states)
        sql = f"UPDATE jobs SET {sets} WHERE id = ? AND state IN ({marks})"
        params: list[Any] = [*fields.values(), job_id, *from_states]
        if owned_by is not None:
            sql += " AND owner = ?"
            params.append(owned_by)
        count, _ = self._exec(sql, params)
        return count == 1

    # -- directors sharing the database --------------------------------------------------

    def heartbeat(self, director: str, now: float) -> None:
        """Record that ``director`` is alive at ``now`` (seconds since the epoch)."""
        self._exec(
            "INSERT INTO directors (id, heartbeat_at) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            [director, now],
        )

    def orphaned_jobs(self, director: str, seen_since: float, limit: int = 100) -> list[JobRecord]:
        """Running jobs of other directors that have not heartbeated since ``seen_since``
        (or never did): their attempts are lost with their director."""
        return [
            JobRecord(*r)
            for r in self._rows(
                f"{_JOB_SELECT} WHERE state = 'running' AND owner IS NOT NULL AND owner <> ?"
                " AND NOT EXISTS (SELECT 1 FROM directors d"
                " WHERE d.id = jobs.owner AND d.heartbeat_at >= ?)"
                " ORDER BY created_at LIMIT ?",
                [director, seen_since, limit],
            )
        ]

    def count_jobs_by_state(self) -> dict[str, int]:
        return {
            str(s): int(n) for s, n in self._rows("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        }
