"""The director: one loop that dispatches jobs, watches containers and heals pods."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from target_api.director import lifecycle as lc
from target_api.director import loopback
from target_api.director.breaker import BreakerBoard
from target_api.director.jobs import JobRunner
from target_api.director.pods import PodSupervisor, canonical_stack
from target_api.director.runtimes import Runtime, make_runtime
from target_api.metrics import ApiMetrics
from target_api.settings import Settings
from target_api.store import AttachOutcome, PodRecord, SqlStore

TICK_S = 0.1  # job timeouts fire within this of their deadline
HEARTBEATS_PER_LEASE = 5  # a director is given up on after missing about this many
STALL_S = 5.0  # a tick older than this makes the director (and readiness) "down"
log = logging.getLogger("target_api.director")


def director_id(data_dir: Path) -> str:
    """This data directory's director identity: what it labels its containers with,
    stable across restarts so that a new process finds what the old one left."""
    path = data_dir / "director-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        ident = uuid.uuid4().hex
        path.write_text(ident + "\n")
        return ident


class Director:
    """Runs pods and jobs on a runtime; thread-safe entry points for the routes."""

    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        metrics: ApiMetrics,
        runtime: Runtime | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.owner = director_id(settings.data_dir)
        self.runtime = runtime or make_runtime(
            settings.runtime, owner=self.owner, reap_orphans=settings.reap_orphans
        )
        self.breakers = BreakerBoard(metrics)
        self.jobs = JobRunner(settings, store, self.runtime, metrics, self.owner)
        self.pods = PodSupervisor(settings, store, self.runtime, metrics, self.owner)
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_tick = time.monotonic()
        self._last_error: str | None = None
        self._failed_ticks = 0
        self._stopping = False
        self._last_heartbeat = 0.0  # time.time() of this director's last heartbeat

    @property
    def heartbeat_interval_s(self) -> float:
        return self.settings.director_lease_s / HEARTBEATS_PER_LEASE

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._heartbeat)
        await asyncio.to_thread(self.reconcile)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._last_tick = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="moonbase-director")

    async def stop(self) -> None:
        # Not task.cancel(): that would abandon a tick mid-way in its thread, free to
        # start a job after _stop_sync looked. The loop ends after the current tick.
        self._stopping = True
        if self._task is not None and self._wake is not None:
            self._wake.set()
            await self._task
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        self.jobs.stop()
        self.pods.stop()
        close = getattr(self.runtime, "close", None)
        if callable(close):
            close()

    def reconcile(self) -> None:
        """Repair what an earlier process of this director left behind."""
        leftovers: dict[str, list[Any]] = defaultdict(list)
        for handle in self.runtime.list_owned():
            leftovers[handle.pod_id].append(handle)
        jobs = self.jobs.reconcile(leftovers)
        pods = self.pods.reconcile(leftovers)
        strays = 0
        for handles in leftovers.values():  # started, but never recorded
            for handle in handles:
                self.runtime.remove(handle)
                strays += 1
        for kind, n in (("job", jobs), ("pod", pods), ("stray_container", strays)):
            if n:
                self.metrics.reconciled.labels(kind).inc(n)
                log.warning("reconciled %d %s(s) left by an earlier run", n, kind)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await asyncio.to_thread(self._tick)
                self._last_error = None
            except Exception as exc:  # a database blip must not stop the director for good
                self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                self._failed_ticks += 1
                self.metrics.director_tick_failures.inc()
                log.exception("director tick failed")
            self._last_tick = time.monotonic()

    def _tick(self) -> None:
        self.jobs.poll()
        self.jobs.dispatch()
        self.pods.poll()
        if time.time() - self._last_heartbeat >= self.heartbeat_interval_s:
            self._heartbeat()

    def _heartbeat(self) -> None:
        """Say this director is alive; take over the jobs of any that is not; stop the
        attempts that are no longer this director's (it may itself have been given up on
        while paused)."""
        now = time.time()
        self.store.heartbeat(self.owner, now)
        self._last_heartbeat = now
        adopted = self.jobs.adopt(seen_since=now - self.settings.director_lease_s)
        if adopted:
            self.metrics.reconciled.labels("adopted_job").inc(adopted)
        released = self.jobs.release_lost()
        if released:
            self.metrics.reconciled.labels("released_job").inc(released)

    def wake(self) -> None:
        """Ask for a tick now (thread-safe): a job was queued."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def health(self) -> dict[str, Any]:
        age = time.monotonic() - self._last_tick
        alive = self._task is not None and not self._task.done()
        status = "ok"
        if not alive or age > STALL_S:
            status = "down"
        elif self._last_error is not None:
            status = "degraded"
        check: dict[str, Any] = {
            "status": status,
            "runtime": self.runtime.name,
            "last_tick_age_s": round(age, 3),
            "running_jobs": self.jobs.running_count,
            "heartbeat_age_s": round(time.time() - self._last_heartbeat, 3),
            "failed_ticks": self._failed_ticks,
            "pods": self.pods.pod_count,
        }
        if self._last_error is not None:
            check["last_error"] = self._last_error
        return check

    # -- pods ------------------------------------------------------------------------

    def create_pod(
        self, name: str, restart_policy: str, stack: dict[str, Any] | None
    ) -> PodRecord | None:
        """Create the pod (and start its stack); None when the name is taken."""
        now = time.time()
        record = PodRecord(
            id=uuid.uuid4().hex,
            name=name,
            state=lc.EMPTY,
            stack_json=None,
            stack_hash=None,
            restart_policy=restart_policy,
            restarts=0,
            owner=None,
            created_at=now,
            updated_at=now,
        )
        if not self.store.insert_pod(record):
            return None
        if stack is not None:
            self.attach(record.id, stack)
        return self.store.get_pod(record.id)

    def attach(self, pod_id: str, stack: dict[str, Any]) -> AttachOutcome:
        text, digest = canonical_stack(stack)
        outcome = self.store.attach_stack(
            pod_id,
            text,
            digest,
            from_states=[lc.EMPTY],
            to_state=lc.STARTING,
            owner=self.owner,
            now=time.time(),
        )
        if outcome is AttachOutcome.ATTACHED:
            record = self.store.get_pod(pod_id)
            if record is not None:
                try:
                    self.pods.launch(record)
                except Exception as exc:  # the pod is marked failed; the attach itself stood
                    log.warning("pod %s failed to start: %s", pod_id, exc)
        return outcome

    def delete_pod(self, pod_id: str) -> bool:
        if self.store.get_pod(pod_id) is None:
            return False
        self.store.move_pod(
            pod_id, lc.sources_of(lc.DELETING), lc.DELETING, time.time(), restarted=False
        )
        self.pods.delete(pod_id)
        self.breakers.forget(f"{pod_id}/")
        return self.store.delete_pod(pod_id)

    def call_container(self, pod_id: str, container: str, payload: bytes) -> bytes | None:
        """Relay ``payload`` to a container of the pod; None when it is not running."""
        port = self.pods.port_of(pod_id, container)
        if port is None:
            return None
        breaker = self.breakers.get(f"{pod_id}/{container}")
        try:
            reply = loopback.call(breaker, port, payload)
        except loopback.CircuitOpenError:
            self.metrics.breaker_calls.labels(breaker.target, "rejected").inc()
            raise
        except loopback.LoopbackError:
            self.metrics.breaker_calls.labels(breaker.target, "failed").inc()
            raise
        self.metrics.breaker_calls.labels(breaker.target, "ok").inc()
        return reply
