"""Jobs: queue, attempts, timeouts, retries, cancellation. Runs on the director's tick
thread; ``submit`` and ``cancel`` also come from request threads."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_api.director.lifecycle import (
    CANCELLED,
    JOB_FAILED,
    JOB_RUNNING,
    QUEUED,
    SUCCEEDED,
    TIMED_OUT,
)
from target_api.director.runtimes.base import ContainerHandle, ContainerSpec, Runtime
from target_api.exceptions import MoonbaseError
from target_api.metrics import ApiMetrics
from target_api.settings import Settings
from target_api.store import JobRecord, SqlStore

LOST_EXIT_CODE = 255  # the container vanished (removed from outside): no status to be had
log = logging.getLogger("target_api.director")


def poll_container(runtime: Runtime, handle: ContainerHandle) -> int | None:
    """``runtime.poll``, for a loop that must go on: a container that is gone reads as
    exited with 255; a runtime error (engine restarting) reads as "still running", and
    the next tick asks again."""
    try:
        return runtime.poll(handle)
    except LookupError:
        return LOST_EXIT_CODE
    except Exception:  # the runtime's trouble, not this container's: ask again next tick
        log.warning("polling %s/%s failed", handle.pod_id, handle.container_name, exc_info=True)
        return None


def remove_container(runtime: Runtime, handle: ContainerHandle) -> None:
    """``runtime.remove`` that never stops the caller: a container the runtime could not
    remove now is found again by ``list_owned`` when the director next starts."""
    try:
        runtime.remove(handle)
    except Exception:  # the state change around it must still happen
        log.warning("removing %s/%s failed", handle.pod_id, handle.container_name, exc_info=True)


# What a job inherits from the API's environment: enough to find programs, nothing secret.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A validated job submission."""

    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    timeout_s: float
    max_attempts: int
    idempotency_key: str | None

    def fingerprint(self) -> str:
        body = json.dumps([self.command, self.env, self.timeout_s, self.max_attempts])
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(slots=True)
class _Running:
    job: JobRecord
    attempt: int
    handle: ContainerHandle
    deadline: float  # time.monotonic() at which the attempt times out


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How an attempt ended (``code`` None: timed out), until the store has it."""

    item: _Running
    code: int | None

    @property
    def timed_out(self) -> bool:
        return self.code is None

    @property
    def timeout_message(self) -> str:
        return f"timed out after {self.item.job.timeout_s:g} s (attempt {self.item.attempt})"


class IdempotencyConflict(MoonbaseError):
    """The idempotency key was used before for a different job."""

    def __init__(self, job: JobRecord) -> None:
        super().__init__(job.id)
        self.job = job


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        runtime: Runtime,
        metrics: ApiMetrics,
        owner: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._runtime = runtime
        self._metrics = metrics
        self._owner = owner
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._unrecorded: list[_Outcome] = []  # attempts over, not yet in the store

    # -- paths -----------------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        return self._settings.data_dir / "jobs" / job_id

    def log_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "output.log"

    def artifacts_dir(self, job_id: str) -> Path:
        return self._settings.artifacts_dir / job_id

    # -- requests ----------------------------------------------------------------------

    def submit(self, request: JobRequest) -> tuple[JobRecord, bool]:
        """Queue the job, or find the one queued before under the same key."""
        job = JobRecord(
            id=uuid.uuid4().hex,
            idempotency_key=request.idempotency_key,
            request_hash=request.fingerprint(),
            command_json=json.dumps(list(request.command)),
            env_json=json.dumps(dict(request.env)),
            timeout_s=request.timeout_s,
            max_attempts=request.max_attempts,
            attempts=0,
            state=QUEUED,
            exit_code=None,
            error=None,
            owner=None,
            handle_ref=None,
            created_at=time.time(),
            started_at=None,
            finished_at=None,
        )
        stored, created = self._store.submit_job(job)
        if not created and stored.request_hash != job.request_hash:
            raise IdempotencyConflict(stored)
        return stored, created

    def cancel(self, job_id: str) -> JobRecord | None:
        with self._lock:
            running = self._running.pop(job_id, None)
        if running is not None:
            remove_container(self._runtime, running.handle)
        if self._store.update_job(
            job_id,
            [QUEUED, JOB_RUNNING],
            state=CANCELLED,
            finished_at=time.time(),
            error="cancelled on request",
        ):
            self._metrics.jobs_finished.labels(CANCELLED).inc()
        return self._store.get_job(job_id)

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    # -- the tick ----------------------------------------------------------------------

    def dispatch(self) -> None:
        free = self._settings.max_running_jobs - self.running_count
        if free <= 0:
            return
        for job in self._store.list_jobs([QUEUED], limit=free):
            self._launch(job)

    def _launch(self, job: JobRecord) -> None:
        attempt = job.attempts + 1
        claimed = self._store.update_job(
            job.id,
            [QUEUED],
            state=JOB_RUNNING,
            owner=self._owner,
            attempts=attempt,
            started_at=time.time(),
            handle_ref=None,
        )
        if not claimed:
            return  # cancelled, or claimed by another director sharing the database
        self._metrics.job_attempts.inc()
        artifacts = self.artifacts_dir(job.id)
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update(json.loads(job.env_json))
        env.update(
            MOONBASE_JOB_ID=job.id,
            MOONBASE_ATTEMPT=str(attempt),
            MOONBASE_ARTIFACTS_DIR=str(artifacts),
        )
        spec = ContainerSpec(name="job", command=tuple(json.loads(job.command_json)))
        try:
            artifacts.mkdir(parents=True, exist_ok=True)
            handle = self._runtime.start(
                f"job-{job.id}",
                spec,
                env=env,
                workdir=self.job_dir(job.id) / "work",
                log_path=self.log_path(job.id),
            )
        except Exception as exc:  # the job's fault (no such program) or the runtime's
            message = f"attempt {attempt} could not start: {type(exc).__name__}: {exc}"
            self._append_log(job.id, message)
            self._attempt_ended(job, attempt, None, message)
            return
        deadline = time.monotonic() + job.timeout_s
        with self._lock:
            self._running[job.id] = _Running(job, attempt, handle, deadline)
        if not self._store.update_job(
            job.id, [JOB_RUNNING], owned_by=self._owner, handle_ref=handle.ref
        ):
            # Cancelled between the claim and now: cancel() found nothing to kill yet.
            with self._lock:
                self._running.pop(job.id, None)
            remove_container(self._runtime, handle)

    def poll(self) -> None:
        self._record_unrecorded()
        with self._lock:
            running = list(self._running.values())
        for item in running:
            code = poll_container(self._runtime, item.handle)
            if code is None and time.monotonic() < item.deadline:
                continue
            with self._lock:
                if self._running.pop(item.job.id, None) is None:
                    continue  # cancelled meanwhile
            remove_container(self._runtime, item.handle)  # the whole group goes, also on exit
            outcome = _Outcome(item, code)
            if outcome.timed_out:
                self._append_log(item.job.id, outcome.timeout_message)
            try:
                self._record(outcome)
            except Exception:
                # The database did not take it: the attempt is over and its container
                # gone, so keep the outcome and record it on a later tick rather than
                # leave the job "running" with nothing running it.
                with self._lock:
                    self._unrecorded.append(outcome)
                raise

    def _record(self, outcome: _Outcome) -> None:
        item = outcome.item
        if outcome.timed_out:
            self._finish(item.job.id, TIMED_OUT, None, outcome.timeout_message)
        else:
            self._attempt_ended(item.job, item.attempt, outcome.code, None)

    def _record_unrecorded(self) -> None:
        with self._lock:
            pending, self._unrecorded = self._unrecorded, []
        for index, outcome in enumerate(pending):
            try:
                self._record(outcome)
            except Exception:
                with self._lock:
                    self._unrecorded[:0] = pending[index:]
                raise

    def _attempt_ended(
        self,
        job: JobRecord,
        attempt: int,
        code: int | None,
        error: str | None,
        *,
        owner: str | None = None,
    ) -> bool:
        """Retry or finish ``job`` after ``attempt``, if it is still running under
        ``owner`` (this director unless said): an attempt another director has taken
        over, or that was cancelled meanwhile, is left alone. True if it changed."""
        owner = owner or self._owner
        if code == 0:
            return self._finish(job.id, SUCCEEDED, 0, None, owner=owner)
        error = error or f"attempt {attempt} exited with code {code}"
        if attempt < job.max_attempts:
            return self._store.update_job(
                job.id,
                [JOB_RUNNING],
                owned_by=owner,
                state=QUEUED,
                exit_code=code,
                handle_ref=None,
                error=f"{error}; retrying",
            )
        return self._finish(job.id, JOB_FAILED, code, error, owner=owner)

    def _finish(
        self,
        job_id: str,
        state: str,
        code: int | None,
        error: str | None,
        *,
        owner: str | None = None,
    ) -> bool:
        if not self._store.update_job(
            job_id,
            [JOB_RUNNING],
            owned_by=owner or self._owner,
            state=state,
            exit_code=code,
            error=error,
            finished_at=time.time(),
            handle_ref=None,
        ):
            return False
        self._metrics.jobs_finished.labels(state).inc()
        return True

    def _append_log(self, job_id: str, message: str) -> None:
        path = self.log_path(job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"[moonbase] {message}\n")

    # -- start and stop ----------------------------------------------------------------

    def reconcile(self, leftovers: dict[str, list[ContainerHandle]]) -> int:
        """After a restart: every job this director had running is killed and retried
        within its max_attempts (the lost attempt counts: it may be what killed us)."""
        repaired = 0
        for job in self._store.list_jobs([JOB_RUNNING], owner=self._owner, limit=100_000):
            for handle in leftovers.pop(f"job-{job.id}", []):
                remove_container(self._runtime, handle)
            message = f"attempt {job.attempts} lost: the API stopped while it ran"
            self._append_log(job.id, message)
            self._attempt_ended(job, job.attempts, None, message)
            repaired += 1
        return repaired

    def adopt(self, seen_since: float) -> int:
        """Take over the running jobs of directors sharing the database that have not
        heartbeated since ``seen_since``: each lost attempt counts, and the job is queued
        again within its max_attempts (or fails), exactly as after a restart. Of several
        directors adopting at once, one wins each job (a compare-and-set on its owner)."""
        adopted = 0
        for job in self._store.orphaned_jobs(self._owner, seen_since):
            message = (
                f"attempt {job.attempts} lost: director {job.owner} stopped heartbeating;"
                f" taken over by director {self._owner}"
            )
            if self._attempt_ended(job, job.attempts, None, message, owner=job.owner):
                self._append_log(job.id, message)
                log.warning("job %s: %s", job.id, message)
                adopted += 1
        return adopted

    def release_lost(self) -> int:
        """Stop the attempts this director runs that are no longer its own in the store
        (taken over while it was paused or cut off, or cancelled through another
        director): their containers go, and nothing of theirs is written back."""
        with self._lock:
            mine = list(self._running)
        if not mine:
            return 0
        still = {j.id for j in self._store.list_jobs([JOB_RUNNING], owner=self._owner)}
        released = 0
        for job_id in mine:
            if job_id in still:
                continue
            with self._lock:
                item = self._running.pop(job_id, None)
            if item is None:
                continue
            remove_container(self._runtime, item.handle)
            log.warning("job %s is no longer this director's: its attempt was stopped", job_id)
            released += 1
        return released

    def stop(self) -> None:
        """A graceful stop: running attempts are killed and queued again, not counted."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for item in running:
            remove_container(self._runtime, item.handle)
            self._store.update_job(
                item.job.id,
                [JOB_RUNNING],
                owned_by=self._owner,
                state=QUEUED,
                attempts=item.attempt - 1,
                handle_ref=None,
            )

    def describe(self, job: JobRecord) -> dict[str, Any]:
        return {
            "id": job.id,
            "state": job.state,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "exit_code": job.exit_code,
            "error": job.error,
            "director": job.owner,  # the director that ran (or runs) its latest attempt
            "command": json.loads(job.command_json),
            "timeout_s": job.timeout_s,
            "idempotency_key": job.idempotency_key,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }
