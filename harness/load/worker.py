"""The Locust child process: ``python -m harness.load.worker --role local|master|worker ...``.

Locust monkey-patches the standard library with gevent when it is imported, and ssl
breaks (RecursionError) if it was imported first. The harness process imports httpx,
docker and requests, so Locust never runs there: the driver starts this module as a
child, which imports locust before anything that could load ssl (the driver's bootstrap
imports locust before the ``harness`` package, then runs this module as ``__main__``), and
hands its result back as a JSON file.

Roles:

``local``   one process runs all users and writes one process report.
``master``  a Locust MasterRunner on 127.0.0.1 (random port, printed on stdout as
            ``{"type": "ready", "port": N}``); it starts the users on the workers, relays
            progress, then asks every worker for its report and writes them all.
``worker``  a Locust WorkerRunner; records its own HdrHistogram and sends it, encoded,
            to the master when asked.

Stdout carries one JSON object per line (``ready``, ``progress``); Locust's own logging
goes to stderr. Every process stops by itself: at the end of its schedule, at
``duration_s``/``max_requests``, and at a hard deadline past those.
"""

# ruff: noqa: E402, I001  (locust must be imported first: see the module docstring)
import locust  # noqa: F401  (patches the standard library with gevent)

import argparse
import faulthandler
import itertools
import json
import math
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gevent
import gevent.event
import gevent.pool
import gevent.util
import locust.runners
from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.exception import StopUser
from locust.log import setup_logging
from locust.runners import STATE_MISSING

from harness.load.recorder import Recorder, merge_live
from harness.load.pacing import schedule_offsets_s, share_of, value_at
from harness.load.spec import LoadSpec, RequestSpec

# Workers report progress to the master every second instead of Locust's default 3 s.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
# A worker that dies mid-run is marked missing by Locust's heartbeat (about 3 s) and the run
# goes on with the others; Locust would remove it after 60 s and deal its users to them,
# but each generated user owns its slots of the schedule (a new one would send them twice).
# Never removed, then: the run is bounded anyway (hard_deadline).
locust.runners.HEARTBEAT_DEAD_INTERNAL = -(10**9)

FELL_BEHIND = (
    "not sent: the load generator fell more than request_timeout_s behind the open-model schedule"
)

# Time allowed, past duration_s + 2 x request_timeout_s, for spawning users and draining.
SPAWN_AND_DRAIN_GRACE_S = 10.0
# How long the master waits for its workers to connect, and for their final reports.
WORKER_CONNECT_TIMEOUT_S = 30.0
WORKER_REPORT_TIMEOUT_S = 10.0
# Closed-model stages: how often a user outside the current stage's count looks again.
STAGE_POLL_S = 0.02
# Locust warns above 100 users/s; the open model paces each user from its own start anyway.
SPAWN_RATE = 100.0


def emit(kind: str, **fields: Any) -> None:
    """One JSON line on stdout for the driver."""
    sys.stdout.write(json.dumps({"type": kind, **fields}) + "\n")
    sys.stdout.flush()


def describe_error(error: BaseException) -> str:
    """A stable message for a transport error: the innermost cause, timeouts named as such.

    geventhttpclient wraps the real cause (refused, reset, timed out) in RetriesExceeded
    whose text holds the URL; counting by the cause keeps one line per kind of failure.
    """
    root = error
    seen = {id(root)}
    while (inner := root.__cause__ or root.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        root = inner
    text = str(root)
    if isinstance(root, TimeoutError | gevent.Timeout) or "timed out" in text:
        return "timeout (no response within request_timeout_s)"
    if root is error and "original=" in text:
        text = text.split("original=", 1)[1]  # geventhttpclient puts the cause text here
    return f"{type(root).__name__}: {text}"


def send(user: FastHttpUser, req: RequestSpec, rng: random.Random) -> str | None:
    """Send one request (its values drawn from ``rng``); return an error message, or None
    when the status was expected."""
    path, headers, body = req.render(rng)
    with user.client.request(
        req.method,
        path,
        name=req.name,
        headers=headers,
        data=body,
        catch_response=True,
    ) as response:
        status = response.status_code
        if status in req.expect_status:
            response.success()
            return None
        error = getattr(response, "error", None)
        if error is not None and not status:
            message = f"{req.name}: {describe_error(error)}"
        else:
            message = f"{req.name}: HTTP {status} (expected {list(req.expect_status)})"
        response.failure(message)
        return message


class Plan:
    """How the users of this process send: open-model schedule or closed loop."""

    def __init__(self, spec: LoadSpec, recorder: Recorder, process_index: int) -> None:
        self.spec = spec
        self.recorder = recorder
        self.process_index = process_index
        self.local_users = spec.users // spec.processes
        self._local_ids = itertools.count()
        # Open model: this process's share of max_in_flight, and how many are out now.
        self.max_in_flight = share_of(spec.max_in_flight, spec.processes, process_index)
        self.in_flight = 0
        # Closed model only: this process's share of max_requests.
        self.budget = (
            None
            if spec.max_requests is None
            else share_of(spec.max_requests, spec.processes, process_index)
        )
        weights = [r.weight for r in spec.requests]
        self._weights = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> RequestSpec:
        if len(self.spec.requests) == 1:
            return self.spec.requests[0]
        return rng.choices(self.spec.requests, cum_weights=self._weights)[0]

    def run_user(self, user: FastHttpUser) -> None:
        local_id = next(self._local_ids)
        # Global user ids interleave across processes, as Locust deals users round-robin.
        user_id = self.process_index + self.spec.processes * local_id
        rng = random.Random(user_id)
        self.recorder.users_started += 1
        try:
            if user_id >= self.spec.users:
                raise RuntimeError(f"user id {user_id} beyond users={self.spec.users}")
            if self.spec.rate_rps > 0:
                self._run_open(user, user_id, rng)
            else:
                self._run_closed(user, user_id, rng)
        finally:
            self.recorder.users_done += 1
            if self.recorder.users_done == self.local_users and self.recorder.on_all_done:
                self.recorder.on_all_done()

    def _run_open(self, user: FastHttpUser, user_id: int, rng: random.Random) -> None:
        """Start each of this user's requests at its intended time, in a greenlet of its
        own, whatever the server does; drop it (counted) when max_in_flight are out."""
        spec = self.spec
        offsets: Iterator[float] = schedule_offsets_s(
            spec.segments(), user_id, spec.users, spec.max_requests
        )
        start = time.perf_counter()
        # Only a generator short of CPU falls behind its own clock; beyond this point the
        # rest are counted as failures instead of being silently skipped.
        cutoff = start + spec.duration_s + spec.request_timeout_s
        requests = gevent.pool.Group()
        try:
            for offset in offsets:
                intended = start + offset
                req = self.pick(rng)
                now = time.perf_counter()
                if now > cutoff:
                    self.recorder.record(now - intended, FELL_BEHIND, req.name)
                    continue
                delay = intended - now
                if delay > 0:
                    gevent.sleep(delay)
                if self.recorder.stop_requested:
                    break
                if self.in_flight >= self.max_in_flight:
                    self.recorder.drop(req.name)
                    continue
                self.in_flight += 1
                self.recorder.sending()
                requests.spawn(self._send_open, user, req, rng, intended)
            requests.join()
        except BaseException:
            requests.kill(block=False)
            raise

    def _send_open(
        self, user: FastHttpUser, req: RequestSpec, rng: random.Random, intended: float
    ) -> None:
        try:
            error = send(user, req, rng)
            # From the intended send time: a stall charges every request it delayed.
            self.recorder.record(time.perf_counter() - intended, error, req.name)
        except Exception:
            # never lost in a greenlet: the process reports it and the driver fails the run
            self.recorder.crashes.append(traceback.format_exc())
        finally:
            self.in_flight -= 1

    def _run_closed(self, user: FastHttpUser, user_id: int, rng: random.Random) -> None:
        start = time.perf_counter()
        end = start + self.spec.duration_s
        shape = self.spec.segments() if self.spec.stages else None
        while (now := time.perf_counter()) < end and not self.recorder.stop_requested:
            # user u is active while the stage's users (floored) exceed u
            if shape is not None and user_id + 1 > value_at(shape, now - start) + 1e-9:
                gevent.sleep(STAGE_POLL_S)  # not among the stage's users now
                continue
            if self.budget is not None:
                if self.budget <= 0:
                    return
                self.budget -= 1
            self.recorder.sending()
            req = self.pick(rng)
            sent = time.perf_counter()
            error = send(user, req, rng)
            self.recorder.record(time.perf_counter() - sent, error, req.name)


def make_user_class(spec: LoadSpec, plan: Plan | None) -> type[FastHttpUser]:
    """The Locust user class; the master builds it too (same name) but never runs it."""

    def run_plan(user: FastHttpUser) -> None:
        if plan is None:
            raise StopUser()
        try:
            plan.run_user(user)
        except (StopUser, gevent.GreenletExit):
            raise
        except Exception:
            # Never swallowed: the process reports it and the driver fails the run.
            plan.recorder.crashes.append(traceback.format_exc())
        raise StopUser()

    return type(
        "HarnessUser",
        (FastHttpUser,),
        {
            "host": spec.target_url,
            "wait_time": constant(0),
            # open model: one user may have all of its process's in-flight requests out
            "concurrency": max(1, math.ceil(spec.max_in_flight / spec.processes)),
            "network_timeout": spec.request_timeout_s,
            "connection_timeout": spec.request_timeout_s,
            "run_plan": task(run_plan),
        },
    )


def await_workers(runner: Any, count: int, stop: gevent.event.Event) -> None:
    """Wait until ``count`` Locust workers are ready on the master ``runner``; quit it and
    raise when they are not within WORKER_CONNECT_TIMEOUT_S (or ``stop`` is set)."""
    connect_deadline = time.monotonic() + WORKER_CONNECT_TIMEOUT_S
    while len(runner.clients.ready) < count:
        if time.monotonic() > connect_deadline or stop.is_set():
            runner.quit()
            raise RuntimeError(
                f"only {len(runner.clients.ready)} of {count} Locust "
                f"workers connected within {WORKER_CONNECT_TIMEOUT_S} s"
            )
        gevent.sleep(0.05)


def live_workers(runner: Any) -> set[str]:
    """The ids of the master ``runner``'s workers that Locust's heartbeat has not marked
    missing (a worker that died, or stopped answering, for about 3 s)."""
    return {c.id for c in runner.clients.values() if c.state != STATE_MISSING}


def collect_reports(
    runner: Any,
    reports: dict[str, dict[str, Any]],
    expected: int,
    live: Callable[[], Iterable[str]],
) -> dict[str, Any]:
    """Ask every worker for its report (``harness_flush``; they land in ``reports``), wait
    for those of the workers still ``live`` (asked again as the wait goes on: one found
    missing meanwhile is not waited for), quit the master ``runner``. A worker lost mid-run
    sends none: the result says how many were ``expected`` and how many finished (sent
    theirs). Raises when none did."""
    runner.send_message("harness_flush")
    report_deadline = time.monotonic() + WORKER_REPORT_TIMEOUT_S
    while not set(live()) <= set(reports) and time.monotonic() < report_deadline:
        gevent.sleep(0.05)
    runner.quit()
    if not reports:
        raise RuntimeError(f"none of the {expected} Locust workers sent its report")
    return {
        "reports": list(reports.values()),
        "workers_expected": expected,
        "workers_finished": len(reports),
    }


def hard_deadline(spec: LoadSpec) -> float:
    """Monotonic time after which this process stops its users whatever they are doing.

    The open-model cut-off is duration + timeout, and a request sent just before it may
    take one more timeout.
    """
    return time.monotonic() + spec.duration_s + 2 * spec.request_timeout_s + SPAWN_AND_DRAIN_GRACE_S


def print_stacks_on_sigusr1() -> None:
    """``kill -USR1`` prints this process's stacks to stderr, as the harness prints its own;
    the load goes on. faulthandler's handler prints every thread at once, even while a
    greenlet never yields; gevent's, chained after it and run by the loop, every greenlet
    (the users). The bootstrap's handler, there from the start, makes way for the two."""
    faulthandler.unregister(signal.SIGUSR1)
    gevent.signal_handler(signal.SIGUSR1, lambda: gevent.util.print_run_info(file=sys.stderr))
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=True)


def install_stop_signals(on_stop: Callable[[], None]) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, on_stop)


def _write_snapshot(path: str, recorder: Recorder) -> None:
    """What this process measured so far, as a partial result, replaced atomically (a
    reader sees the previous snapshot or this one, never a torn file)."""
    body = {"reports": [recorder.report()], "interrupted": True, "timed_out": False}
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(body, f)
    os.replace(tmp, path)


def run_local(
    spec: LoadSpec, epoch: float, snapshot: str | None = None, snapshot_every_s: float = 60.0
) -> dict[str, Any]:
    """Run the load in this process; with ``snapshot``, write the partial result there every
    ``snapshot_every_s`` (a long run that is killed keeps what it measured). Stops early on
    SIGTERM/SIGINT and when the harness that started it is gone."""
    recorder = Recorder(epoch)
    parent = os.getppid()
    install_stop_signals(recorder.signal_stop)
    plan = Plan(spec, recorder, 0)
    env = Environment(user_classes=[make_user_class(spec, plan)], host=spec.target_url)
    runner = env.create_local_runner()
    deadline = hard_deadline(spec)
    started = time.monotonic()
    runner.start(spec.users, spawn_rate=SPAWN_RATE)
    next_progress = started + 1.0
    next_snapshot = started + snapshot_every_s
    timed_out = False
    while recorder.users_done < spec.users and not recorder.signalled:
        if time.monotonic() > deadline:
            timed_out = True
            break
        gevent.sleep(0.05)
        if time.monotonic() >= next_progress:
            next_progress += 1.0
            live = recorder.progress(spec.live_progress)
            emit("progress", elapsed_s=time.monotonic() - started, **live)
            if os.getppid() != parent:  # the harness died: no one will read the result
                recorder.signal_stop()
        if snapshot is not None and time.monotonic() >= next_snapshot:
            next_snapshot += snapshot_every_s
            _write_snapshot(snapshot, recorder)
    recorder.stop_requested = True
    runner.quit()
    return {
        "reports": [recorder.report()],
        "interrupted": timed_out or recorder.signalled,
        "timed_out": timed_out,
    }


def run_master(spec: LoadSpec, epoch: float) -> dict[str, Any]:
    """The Locust master for ``spec.processes`` local workers: starts the users, relays
    progress, ends the run once every live worker has run its users' plans, and collects
    the reports of the workers still there (one that died mid-run is counted missing)."""
    parent = os.getppid()
    stop = gevent.event.Event()
    install_stop_signals(stop.set)
    env = Environment(user_classes=[make_user_class(spec, None)], host=spec.target_url)
    runner = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=0)
    progress: dict[str, dict[str, Any]] = {}
    reports: dict[str, dict[str, Any]] = {}

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        if "harness_progress" in data:
            progress[client_id] = data["harness_progress"]

    def on_final_report(environment: Environment, msg: Any) -> None:
        reports[msg.node_id] = msg.data

    def on_worker_done(environment: Environment, msg: Any) -> None:
        progress[msg.node_id] = msg.data

    env.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]
    runner.register_message("harness_report", on_final_report)
    runner.register_message("harness_done", on_worker_done)
    emit("ready", port=runner.server.port)

    await_workers(runner, spec.processes, stop)

    deadline = hard_deadline(spec)
    started = time.monotonic()
    runner.start(spec.users, spawn_rate=SPAWN_RATE)
    next_progress = started + 1.0
    timed_out = False
    share = spec.users // spec.processes

    def plans_done() -> bool:  # with no live worker left: at once
        return all(
            int(progress.get(c, {}).get("users_done", 0)) >= share for c in live_workers(runner)
        )

    while not plans_done() and not stop.is_set():
        if time.monotonic() > deadline:
            timed_out = True
            break
        gevent.sleep(0.05)
        if time.monotonic() >= next_progress:
            next_progress += 1.0
            emit(
                "progress",
                elapsed_s=time.monotonic() - started,
                requests=sum(int(p["requests"]) for p in progress.values()),
                failures=sum(int(p["failures"]) for p in progress.values()),
                dropped=sum(int(p.get("dropped", 0)) for p in progress.values()),
                **merge_live(progress.values()),
            )
            if os.getppid() != parent:  # the harness died: stop the workers, end
                stop.set()
    collected = collect_reports(runner, reports, spec.processes, lambda: live_workers(runner))
    return collected | {"interrupted": timed_out or stop.is_set(), "timed_out": timed_out}


def run_worker(spec: LoadSpec, epoch: float, master_port: int, index: int) -> None:
    recorder = Recorder(epoch)
    plan = Plan(spec, recorder, index)
    env = Environment(user_classes=[make_user_class(spec, plan)], host=spec.target_url)
    runner = env.create_worker_runner("127.0.0.1", master_port)

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        data["harness_progress"] = recorder.progress(spec.live_progress)

    def on_flush(environment: Environment, msg: Any) -> None:
        recorder.stop_requested = True
        runner.stop()
        runner.send_message("harness_report", recorder.report())

    def on_stop_signal() -> None:
        # The master owns the run: a signalled worker only stops sending.
        recorder.stop_requested = True

    def on_all_done() -> None:
        runner.send_message("harness_done", recorder.progress(spec.live_progress))

    recorder.on_all_done = on_all_done
    env.events.report_to_master.add_listener(on_report_to_master)  # type: ignore[no-untyped-call]
    runner.register_message("harness_flush", on_flush)
    install_stop_signals(on_stop_signal)
    # Bounded even if the master vanishes: past the deadline plus the master's own waits.
    limit = (
        hard_deadline(spec) - time.monotonic() + WORKER_CONNECT_TIMEOUT_S + WORKER_REPORT_TIMEOUT_S
    )
    runner.greenlet.join(timeout=limit)
    if len(runner.greenlet):  # a gevent Group (no .dead): greenlets still running
        runner.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.worker")
    parser.add_argument("--spec", required=True, help="LoadSpec JSON file")
    parser.add_argument("--result", help="where to write the result JSON (local, master)")
    parser.add_argument("--role", choices=("local", "master", "worker"), default="local")
    parser.add_argument(
        "--epoch",
        type=float,
        required=True,
        help="shared time.time() origin for the per-second timeline",
    )
    parser.add_argument("--master-port", type=int, default=0)
    parser.add_argument("--worker-index", type=int, default=0)
    parser.add_argument("--snapshot", help="local role: write the partial result here")
    parser.add_argument("--snapshot-every-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    print_stacks_on_sigusr1()
    setup_logging("WARNING")  # type: ignore[no-untyped-call]
    with open(args.spec, encoding="utf-8") as f:
        spec = LoadSpec.from_json(json.load(f))
    # Checked again here: this process is the one that sends the traffic.
    spec.validate(where=args.spec)
    if args.role == "worker":
        run_worker(spec, args.epoch, args.master_port, args.worker_index)
        return 0
    if not args.result:
        parser.error("--result is required for the local and master roles")
    result = (
        run_local(spec, args.epoch, args.snapshot, args.snapshot_every_s)
        if args.role == "local"
        else run_master(spec, args.epoch)
    )
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(result, f)
    crashes = [c for r in result["reports"] for c in r.get("crashes", [])]
    for crash in crashes:
        sys.stderr.write(crash)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
