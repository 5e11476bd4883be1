"""The store on SQLite and PostgreSQL: the same operations, the same races settled."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from target_api.store import AttachOutcome, JobRecord, PodRecord, SqlStore, open_store
from target_api.testing import postgres_schema

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        yield s
        s.close()
        return
    with postgres_schema() as url:
        s = open_store(url)
        yield s
        s.close()


def pod(name: str) -> PodRecord:
    now = time.time()
    return PodRecord(uuid.uuid4().hex, name, "empty", None, None, "on_failure", 0, None, now, now)


def job(key: str | None, request_hash: str = "h") -> JobRecord:
    return JobRecord(
        uuid.uuid4().hex,
        key,
        request_hash,
        '["true"]',
        "{}",
        5.0,
        1,
        0,
        "queued",
        None,
        None,
        None,
        None,
        time.time(),
        None,
        None,
    )


def race(n: int, fn: Callable[[int], T]) -> list[T]:
    """Run fn(0..n-1) in n threads released together."""
    barrier = threading.Barrier(n)

    def go(i: int) -> T:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_of_many_concurrent_attaches_exactly_one_wins(store: SqlStore) -> None:
    record = pod(f"p-{uuid.uuid4().hex[:8]}")
    assert store.insert_pod(record)

    def attach(i: int) -> AttachOutcome:
        return store.attach_stack(
            record.id,
            f'{{"n":{i}}}',
            f"hash-{i}",
            from_states=["empty"],
            to_state="starting",
            owner="o",
            now=time.time(),
        )

    outcomes = race(12, attach)
    assert outcomes.count(AttachOutcome.ATTACHED) == 1
    assert outcomes.count(AttachOutcome.DIFFERENT) == 11
    winner = outcomes.index(AttachOutcome.ATTACHED)
    stored = store.get_pod(record.id)
    assert stored is not None
    assert (stored.stack_hash, stored.state) == (f"hash-{winner}", "starting")


def test_same_stack_again_is_same_not_attached(store: SqlStore) -> None:
    record = pod("p")
    store.insert_pod(record)
    args = {"from_states": ["empty"], "to_state": "starting", "owner": "o", "now": 1.0}
    assert store.attach_stack(record.id, "{}", "h", **args) is AttachOutcome.ATTACHED
    assert store.attach_stack(record.id, "{}", "h", **args) is AttachOutcome.SAME
    assert store.attach_stack("nope", "{}", "h", **args) is AttachOutcome.MISSING


def test_duplicate_pod_name_is_refused(store: SqlStore) -> None:
    assert store.insert_pod(pod("same"))
    assert not store.insert_pod(pod("same"))


def test_concurrent_submissions_with_one_key_make_one_job(store: SqlStore) -> None:
    results = race(10, lambda i: store.submit_job(job("k")))
    assert sum(created for _, created in results) == 1
    assert len({j.id for j, _ in results}) == 1


def test_claiming_a_job_is_a_compare_and_set(store: SqlStore) -> None:
    queued, _ = store.submit_job(job(None))
    wins = race(
        8, lambda i: store.update_job(queued.id, ["queued"], state="running", owner=f"d{i}")
    )
    assert wins.count(True) == 1
    assert store.count_jobs_by_state() == {"running": 1}
    assert [j.id for j in store.list_jobs(["running"])] == [queued.id]


def test_orphaned_jobs_are_those_of_directors_not_seen_within_the_lease(store: SqlStore) -> None:
    now = time.time()
    jobs = {}
    for owner in ("me", "alive", "dead", "never_seen"):
        queued, _ = store.submit_job(job(None))
        assert store.update_job(queued.id, ["queued"], state="running", owner=owner)
        jobs[owner] = queued.id
    store.heartbeat("me", now)
    store.heartbeat("alive", now - 1)
    store.heartbeat("dead", now - 60)
    store.heartbeat("dead", now - 30)  # a later heartbeat replaces the earlier one
    orphaned = store.orphaned_jobs("me", seen_since=now - 15)
    assert sorted(j.id for j in orphaned) == sorted([jobs["dead"], jobs["never_seen"]])
    assert store.orphaned_jobs("me", seen_since=now - 45) == [store.get_job(jobs["never_seen"])]


def test_a_job_update_guarded_by_owner_loses_once_another_director_took_it(
    store: SqlStore,
) -> None:
    queued, _ = store.submit_job(job(None))
    assert store.update_job(queued.id, ["queued"], state="running", owner="old")
    assert store.update_job(queued.id, ["running"], owned_by="old", state="queued")
    assert store.update_job(queued.id, ["queued"], state="running", owner="new")
    assert not store.update_job(queued.id, ["running"], owned_by="old", state="succeeded")
    assert store.update_job(queued.id, ["running"], owned_by="new", state="succeeded")
    assert store.count_jobs_by_state() == {"succeeded": 1}


def test_of_directors_adopting_one_orphan_at_once_exactly_one_wins(store: SqlStore) -> None:
    queued, _ = store.submit_job(job(None))
    assert store.update_job(queued.id, ["queued"], state="running", owner="dead")
    wins = race(
        8, lambda i: store.update_job(queued.id, ["running"], owned_by="dead", state="queued")
    )
    assert wins.count(True) == 1


@pytest.mark.postgres
def test_postgres_store_survives_its_connections_being_killed() -> None:
    with postgres_schema() as url, psycopg.connect(url, autocommit=True) as admin:
        store = open_store(url)
        try:
            assert store.insert_pod(pod("survivor"))
            # The pool is LIFO: one idle connection, whose backend we terminate.
            backend = store._rows("SELECT pg_backend_pid()")[0][0]  # noqa: SLF001
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            assert [p.name for p in store.list_pods()] == ["survivor"]  # retried on a new one
            assert store._rows("SELECT pg_backend_pid()")[0][0] != backend  # noqa: SLF001
        finally:
            store.close()
