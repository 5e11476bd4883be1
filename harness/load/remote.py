"""Load across machines on Locust's own distributed engine: the Locust child side.

``load --expect-workers N --master-bind ADDR:PORT`` runs this module's master (role
``master``): a Locust MasterRunner bound to ADDR:PORT that waits for N workers, hands each
that says ``harness_ready`` (its handlers are in place) the spec (and the locustfile's
source, when there is one) as a ``harness_spec`` message,
starts the users (or the shape), and at the end asks every worker still there for its
report. ``reliable-test-runner load-worker --master HOST:PORT`` runs this module's worker
(role ``worker``): a Locust WorkerRunner that needs nothing but the master's address; it
builds the generated user (:mod:`harness.load.worker`) or imports the locustfile it was
sent (:mod:`harness.load.locustfile_run`) and records its own HdrHistograms, which the
master hands back as they are for the driver to merge.

A worker that dies mid-run is marked missing by Locust's heartbeat; the run goes on with
the others, and the result says how many workers were expected and how many finished
(sent their report). The master never redistributes a lost worker's users (each generated
user owns its slots of the schedule; a new one would send them twice).

Every process stops by itself: the master at the end of the run, a hard deadline past it,
or when no worker came in time; a worker when the master says quit, at a hard deadline
past its spec, when no master answered, or when the command that started it is gone.
"""

# ruff: noqa: E402, I001  (locust must be imported first: see harness.load.worker)
import locust  # noqa: F401  (patches the standard library with gevent)

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import locust.runners
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.log import setup_logging
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner

from harness.load.locustfile_run import (
    LocustfileRecorder,
    UserCode,
    attach,
    guard_connections,
    make_environment,
    over,
    pace_users,
    start,
)
from harness.load.spec import LoadSpec, check_target_url
from harness.load.recorder import Recorder
from harness.load.worker import (
    SPAWN_RATE,
    Plan,
    collect_reports,
    emit,
    hard_deadline,
    install_stop_signals,
    make_user_class,
    print_stacks_on_sigusr1,
)

__all__ = ["REMOTE_CONNECT_TIMEOUT_S", "main", "run_master", "run_worker"]

# How long the master waits for its workers, and a worker for its spec: workers on other
# machines are started by hand or by another job.
REMOTE_CONNECT_TIMEOUT_S = 60.0
# A lost worker is never removed (and its users never handed to the others): see
# harness.load.worker, which sets locust.runners.HEARTBEAT_DEAD_INTERNAL for every master.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
# A worker tries to reach its master for REMOTE_CONNECT_TIMEOUT_S, not Locust's 5 minutes.
locust.runners.CONNECT_RETRY_COUNT = int(REMOTE_CONNECT_TIMEOUT_S / locust.runners.CONNECT_TIMEOUT)


class _Workers:
    """The master's view of its workers: who got the spec, their progress and reports."""

    def __init__(self, runner: MasterRunner, spec: LoadSpec) -> None:
        self.runner = runner
        self.spec = spec
        self.index: dict[str, int] = {}  # client id -> the worker's index, once handed
        self.asked: set[str] = set()  # workers whose handlers are in place (harness_ready)
        self.acked: set[str] = set()
        self.progress: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.turned_away = 0
        source = None
        if spec.locustfile:
            source = Path(spec.locustfile).read_text(encoding="utf-8")
        self.locustfile = None if source is None else (Path(spec.locustfile or "").name, source)

    def hand_out(self, epoch: float) -> None:
        """The spec to every new worker that asked for it while some are still expected; a
        worker past the count is sent away (Locust would otherwise deal it users it cannot
        run). A worker asks once its handlers are registered: a spec sent on Locust's own
        connect ack could arrive before them and be dropped as an unknown message."""
        for client in list(self.runner.clients.ready):
            if client.id in self.index or client.id not in self.asked:
                continue
            if len(self.index) >= self.spec.processes:
                self.runner.send_message("harness_away", client_id=client.id)
                self.runner.server.send_to_client(Message("quit", None, client.id))  # type: ignore[no-untyped-call]
                del self.runner.clients[client.id]
                self.turned_away += 1
                continue
            self.index[client.id] = len(self.index)
            data = {"spec": self.spec.to_json(), "index": self.index[client.id], "epoch": epoch}
            if self.locustfile is not None:
                data["locustfile"] = list(self.locustfile)
            self.runner.send_message("harness_spec", data, client_id=client.id)

    def live(self) -> list[str]:
        """The workers that got the spec and are not missing."""
        out = []
        for client_id in self.index:
            client = self.runner.clients.get(client_id)
            if client is not None and client.state != STATE_MISSING:
                out.append(client_id)
        return out

    def plans_done(self) -> bool:
        """Generated user: every live worker has run its users' plans to the end."""
        share = self.spec.users // self.spec.processes
        return all(int(self.progress.get(c, {}).get("users_done", 0)) >= share for c in self.live())

    def total(self, key: str) -> int:
        return sum(int(p.get(key, 0)) for p in self.progress.values())


def _handed_only(workers: _Workers) -> type[UsersDispatcher]:
    """Locust's dispatcher, dealing users only to the workers that got the spec: a worker
    that connects during the run would otherwise be dealt users taken from the others
    (Locust re-dispatches on every connect), which it cannot run."""

    class HandedOnly(UsersDispatcher):
        def __init__(self, worker_nodes: list[Any], user_classes: list[Any]) -> None:
            mine = [w for w in worker_nodes if w.id in workers.index]
            super().__init__(mine, user_classes)

        def add_worker(self, worker_node: Any) -> None:
            if worker_node.id in workers.index:
                super().add_worker(worker_node)

    return HandedOnly


def _listen(env: Environment, runner: MasterRunner, workers: _Workers) -> None:
    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        if "harness_progress" in data:
            workers.progress[client_id] = data["harness_progress"]

    def on_ready(environment: Environment, msg: Any) -> None:
        workers.asked.add(msg.node_id)

    def on_ack(environment: Environment, msg: Any) -> None:
        workers.acked.add(msg.node_id)

    def on_done(environment: Environment, msg: Any) -> None:
        workers.progress[msg.node_id] = msg.data

    def on_report(environment: Environment, msg: Any) -> None:
        workers.reports[msg.node_id] = msg.data

    env.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]
    runner.register_message("harness_ready", on_ready)
    runner.register_message("harness_spec_ok", on_ack)
    runner.register_message("harness_done", on_done)
    runner.register_message("harness_report", on_report)


def _await_workers(runner: MasterRunner, workers: _Workers, epoch: float, stop: Any) -> None:
    deadline = time.monotonic() + REMOTE_CONNECT_TIMEOUT_S
    while len(workers.acked) < workers.spec.processes:
        if time.monotonic() > deadline or stop.is_set():
            said = (
                f"only {len(workers.acked)} of {workers.spec.processes} load workers joined "
                f"within {REMOTE_CONNECT_TIMEOUT_S:.0f} s ({len(runner.clients)} connected, "
                f"{len(workers.asked)} asked for the spec)"
            )
            runner.quit()
            raise RuntimeError(said)
        workers.hand_out(epoch)
        gevent.sleep(0.05)


def run_master(spec: LoadSpec, epoch: float, bind_host: str, bind_port: int) -> dict[str, Any]:
    parent = os.getppid()
    stop = gevent.event.Event()
    install_stop_signals(stop.set)
    code = UserCode(spec.locustfile) if spec.locustfile else None
    if code is not None:
        env = make_environment(spec, code, with_shape=True)
    else:
        env = Environment(user_classes=[make_user_class(spec, None)], host=spec.target_url)
    runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=bind_port)
    workers = _Workers(runner, spec)
    env.dispatcher_class = _handed_only(workers)
    _listen(env, runner, workers)
    emit("ready", port=runner.server.port)
    _await_workers(runner, workers, epoch, stop)
    workers.hand_out(epoch)  # one more joined since? sent away before any user is dealt
    started = time.monotonic()
    deadline = hard_deadline(spec)
    if code is not None:
        start(runner, spec, code)
    else:
        runner.start(spec.users, spawn_rate=SPAWN_RATE)
    next_progress, timed_out = started + 1.0, False
    while not stop.is_set() and workers.live():
        if time.monotonic() > deadline:
            timed_out = True
            break
        if code is None and workers.plans_done():
            break
        if code is not None and over(runner, code, started, spec):
            break
        if spec.max_requests is not None and workers.total("requests") >= spec.max_requests:
            break
        workers.hand_out(epoch)  # a worker joining now is sent away
        gevent.sleep(0.05)
        if time.monotonic() >= next_progress:
            next_progress += 1.0
            emit(
                "progress", elapsed_s=time.monotonic() - started,
                requests=workers.total("requests"), failures=workers.total("failures"),
            )  # fmt: skip
            if os.getppid() != parent:
                stop.set()
    return _collect(runner, workers, stop.is_set() or timed_out, timed_out)


def _collect(
    runner: MasterRunner, workers: _Workers, interrupted: bool, timed_out: bool
) -> dict[str, Any]:
    """Ask the live workers for their reports; the result says how many finished."""
    collected = collect_reports(runner, workers.reports, workers.spec.processes, workers.live)
    return collected | {"interrupted": interrupted, "timed_out": timed_out}


class _Worker:
    """A worker's state: nothing until the master's spec arrives."""

    def __init__(self, env: Environment, allow_non_loopback: bool) -> None:
        self.env = env
        self.allow_non_loopback = allow_non_loopback
        self.recorder: Recorder | None = None
        self.spec: LoadSpec | None = None
        self.error: str | None = None
        self.reported = False
        self.turned_away = False
        self.scratch = tempfile.TemporaryDirectory(prefix="moonbase-load-worker-")

    def take_spec(self, data: dict[str, Any]) -> None:
        spec = LoadSpec.from_json(data["spec"])
        check_target_url(spec.target_url, self.allow_non_loopback, where="the master's spec")
        epoch, index = float(data["epoch"]), int(data["index"])
        if data.get("locustfile"):
            name, source = data["locustfile"]
            path = Path(self.scratch.name) / Path(str(name)).name
            path.write_text(str(source), encoding="utf-8")
            spec = LoadSpec.from_json({**data["spec"], "locustfile": str(path)})
            code = UserCode(str(path))
            own = LocustfileRecorder(epoch, None)
            make_environment(spec, code, with_shape=False)  # the harness's timeouts
            for user_class in code.user_classes:
                user_class.host = spec.target_url
            self.env.user_classes = code.user_classes
            pace_users(code, own)
            attach(self.env, own)
            recorder: Recorder = own
        else:
            recorder = Recorder(epoch)
            self.env.user_classes = [make_user_class(spec, Plan(spec, recorder, index))]
        self.spec, self.recorder = spec, recorder


def run_worker(master_host: str, master_port: int, allow_non_loopback: bool) -> int:
    """0 once this worker sent its report to the master; 1 otherwise."""
    parent = os.getppid()
    guard_connections(allow_non_loopback)
    env = Environment(user_classes=[])
    try:
        runner = env.create_worker_runner(master_host, master_port)
    except ConnectionError:
        sys.stderr.write(
            f"load worker: no master answered at {master_host}:{master_port} within "
            f"{REMOTE_CONNECT_TIMEOUT_S:.0f} s\n"
        )
        return 1
    worker = _Worker(env, allow_non_loopback)

    def on_spec(environment: Environment, msg: Any) -> None:
        try:
            worker.take_spec(msg.data)
        except Exception as exc:  # reported, and this worker leaves the run
            worker.error = f"the master's spec cannot run here: {type(exc).__name__}: {exc}"
            runner.quit()
            return
        assert worker.recorder is not None
        recorder = worker.recorder
        recorder.on_all_done = lambda: runner.send_message("harness_done", recorder.progress())
        runner.send_message("harness_spec_ok", {"pid": os.getpid()})

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        if worker.recorder is not None:
            data["harness_progress"] = worker.recorder.progress()

    def on_flush(environment: Environment, msg: Any) -> None:
        if worker.recorder is None:
            return
        worker.recorder.stop_requested = True
        runner.stop()
        runner.send_message("harness_report", worker.recorder.report())
        worker.reported = True

    def on_away(environment: Environment, msg: Any) -> None:
        worker.turned_away = True

    env.events.report_to_master.add_listener(on_report_to_master)  # type: ignore[no-untyped-call]
    runner.register_message("harness_spec", on_spec)
    runner.register_message("harness_away", on_away)
    runner.register_message("harness_flush", on_flush)
    stopped = gevent.event.Event()
    install_stop_signals(stopped.set)
    _wait_worker(runner, worker, stopped, parent)
    if worker.error:
        sys.stderr.write(f"load worker: {worker.error}\n")
    elif worker.turned_away:
        sys.stderr.write("load worker: the master sent this worker away (it has all it expects)\n")
    elif worker.spec is None and not stopped.is_set():
        sys.stderr.write("load worker: the master ended before it sent this worker a spec\n")
    worker.scratch.cleanup()
    return 0 if worker.reported else 1


def _wait_worker(runner: Any, worker: _Worker, stopped: Any, parent: int) -> None:
    spec_deadline = time.monotonic() + REMOTE_CONNECT_TIMEOUT_S
    deadline: float | None = None
    ask_at = 0.0
    while len(runner.greenlet) and not stopped.is_set():
        now = time.monotonic()
        if worker.spec is None and not worker.turned_away and now >= ask_at:
            # the spec can come now (the handlers are in place); asked again every second
            # until it does, should a message be lost while Locust reconnects
            runner.send_message("harness_ready")
            ask_at = now + 1.0
        if worker.spec is None and now > spec_deadline:
            worker.error = f"no spec from a master within {REMOTE_CONNECT_TIMEOUT_S:.0f} s"
            break
        if worker.spec is not None and deadline is None:
            deadline = hard_deadline(worker.spec) + REMOTE_CONNECT_TIMEOUT_S
        if deadline is not None and now > deadline:
            break
        if os.getppid() != parent:
            break  # the command that started this worker is gone
        gevent.sleep(0.1)
    if len(runner.greenlet):
        runner.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.remote")
    parser.add_argument("--role", choices=("master", "worker"), required=True)
    parser.add_argument("--spec", help="master: LoadSpec JSON file")
    parser.add_argument("--result", help="master: where to write the result JSON")
    parser.add_argument("--epoch", type=float, default=0.0)
    parser.add_argument("--bind", help="master: ADDR:PORT to listen on")
    parser.add_argument("--master", help="worker: the master's HOST:PORT")
    parser.add_argument("--allow-non-loopback", action="store_true")
    parser.add_argument("--snapshot")  # accepted for the driver; a distributed run takes none
    parser.add_argument("--snapshot-every-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    print_stacks_on_sigusr1()
    setup_logging("WARNING")  # type: ignore[no-untyped-call]
    if args.role == "worker":
        host, _, port = str(args.master).rpartition(":")
        return run_worker(host, int(port), args.allow_non_loopback)
    with open(args.spec, encoding="utf-8") as f:
        spec = LoadSpec.from_json(json.load(f))
    spec.validate(where=args.spec)
    host, _, port = str(args.bind).rpartition(":")
    result = run_master(spec, args.epoch, host, int(port))
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
