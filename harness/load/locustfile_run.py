"""The user's own locustfile under the harness: the Locust child side.

``python -m harness.load.locustfile_run --role local|master|worker --spec FILE ...`` (started
by :mod:`harness.load.driver` with locust imported first, as for :mod:`harness.load.worker`)
imports the locustfile, runs its User classes as written (tasks and their weights,
``wait_time``, ``on_start``, ``catch_response``, ``name=``) and its ``LoadTestShape`` when it
has one, and records every request Locust reports into the same HdrHistograms as the
generated user: in total, per request name (``GET /api/v0/ping``, or the ``name=`` given),
per second. The process reports are the worker's own, so the driver merges them as it
merges any other (:func:`harness.load.result.merge_reports`).

The model is closed: the locustfile's users pace themselves with their ``wait_time``, so a
latency is Locust's own response time, from the actual send time (the report says so).

An exception in user code (``on_start``, a task) is counted as a user error under the
traceback's last frame (``locustfile.py:12 in on_start``), never a hang: a run whose users
have all died ends at once. ``--check FILE`` imports a locustfile and prints what it holds
(or why it cannot be used) as one JSON line, for the harness to refuse it (exit 2) before
anything starts.

Every run stops by itself: at ``duration_s``, at ``max_requests`` completed, when the shape
says it is over, and at the worker's hard deadline. Every connection the user code opens is
checked: outside 127.0.0.0/8 it is refused unless the spec allows it.
"""

# ruff: noqa: E402, I001  (locust must be imported first: see harness.load.worker)
import locust  # noqa: F401  (patches the standard library with gevent)

import argparse
import inspect
import ipaddress
import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import gevent
import gevent.event
from locust import User
from locust.env import Environment
from locust.log import setup_logging
from locust.runners import STATE_RUNNING, STATE_STOPPED, Runner
from locust.shape import LoadTestShape
from locust.util.load_locustfile import load_locustfile

from harness.load.spec import LoadSpec
from harness.load.recorder import MAX_ERROR_KINDS, Recorder
from harness.load.worker import (
    await_workers,
    collect_reports,
    live_workers,
    SPAWN_RATE,
    WORKER_CONNECT_TIMEOUT_S,
    WORKER_REPORT_TIMEOUT_S,
    describe_error,
    emit,
    hard_deadline,
    install_stop_signals,
    print_stacks_on_sigusr1,
)

__all__ = ["UserCode", "check_main", "last_frame", "main", "pace_users", "pacing_period_s"]


class UserCode:
    """What a locustfile holds: its runnable User classes and its shape, if any."""

    def __init__(self, path: str) -> None:
        self.path = path
        users, shapes = load_locustfile(path)
        self.user_classes: list[type[User]] = list(users.values())
        self.shape: LoadTestShape | None = shapes[0] if shapes else None
        if not self.user_classes:
            raise LookupError(
                "no User class: define a subclass of locust.HttpUser, FastHttpUser or User "
                "(not abstract) at the top level of the file"
            )
        if len(shapes) > 1:
            names = ", ".join(type(s).__name__ for s in shapes)
            raise LookupError(f"more than one LoadTestShape ({names}): keep one")

    def describe(self) -> dict[str, Any]:
        return {
            "users": [
                {
                    "name": c.__name__,
                    "weight": getattr(c, "weight", 1),
                    "base": c.__mro__[1].__name__,
                }
                for c in self.user_classes
            ],
            "shape": None if self.shape is None else type(self.shape).__name__,
        }


def last_frame(tb: TracebackType | None) -> str:
    """``file.py:12 in on_start``: where the user code raised."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "(no traceback)"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


class LocustfileRecorder(Recorder):
    """The worker's recorder, fed by Locust's request events; user errors kept apart."""

    def __init__(self, epoch: float, budget: int | None) -> None:
        super().__init__(epoch)
        self.user_errors = 0
        self.budget = budget
        self.budget_spent = gevent.event.Event()  # wakes the run loop at once
        # paced users (pace_users): per user greenlet, [its current task's intended start
        # (time.time()), how late that task started (None until its first request)]
        self.paced_tasks: dict[Any, list[Any]] = {}
        self.paced_users: list[str] = []

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        if self.first_send_s is None:
            self.first_send_s = (start_time or time.time()) - self.epoch
        key = name if name.startswith(f"{request_type} ") else f"{request_type} {name}"
        error = None if exception is None else f"{key}: {describe_error(exception)}"
        latency_s = (response_time or 0.0) / 1000.0
        task = self.paced_tasks.get(gevent.getcurrent())
        if task is not None:  # a paced user: from its task's intended start
            if task[1] is None:  # the task's first request says how late it started
                task[1] = max(0.0, (start_time or time.time()) - task[0])
            latency_s += task[1]
        self.record(latency_s, error, key)
        if self.budget is not None and self.requests >= self.budget:
            self.stop_requested = True
            self.budget_spent.set()

    def on_user_error(self, user_instance: Any, exception: BaseException, tb: Any) -> None:
        self.user_errors += 1
        # a task's error comes from its TaskSet (DefaultTaskSet for a User's own @task)
        owner = type(user_instance).__name__
        if not isinstance(user_instance, User) and hasattr(user_instance, "user"):
            user = type(user_instance.user).__name__
            owner = user if owner == "DefaultTaskSet" else f"{user}.{owner}"
        message = (
            f"user error: {owner} raised {type(exception).__name__}: "
            f"{exception} at {last_frame(tb)}"
        )
        if message in self.errors or len(self.errors) < MAX_ERROR_KINDS:
            self.errors[message] += 1
        else:
            self.errors["(other errors)"] += 1

    def report(self) -> dict[str, Any]:
        return super().report() | {
            "user_errors": self.user_errors,
            "paced_users": list(self.paced_users),
        }


def guard_connections(allow_non_loopback: bool) -> None:
    """Refuse every TCP connection outside 127.0.0.0/8 (the user code may name any URL)."""
    if allow_non_loopback:
        return
    cls: Any = socket.socket  # gevent's, after monkey-patching
    original_connect = cls.connect
    original_connect_ex = cls.connect_ex

    def check(address: Any) -> None:
        if isinstance(address, tuple) and address:
            try:
                loopback = ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ConnectionRefusedError(
                    f"refused by the harness: {address[0]} is outside 127.0.0.0/8 "
                    "(pass --allow-non-loopback to send traffic elsewhere)"
                )

    def connect(self: Any, address: Any) -> Any:
        check(address)
        return original_connect(self, address)

    def connect_ex(self: Any, address: Any) -> Any:
        check(address)
        return original_connect_ex(self, address)

    cls.connect = connect
    cls.connect_ex = connect_ex


def make_environment(spec: LoadSpec, code: UserCode, *, with_shape: bool) -> Environment:
    for user_class in code.user_classes:
        # the harness's timeout bounds every request, whatever the file says
        user_class.network_timeout = spec.request_timeout_s  # type: ignore[attr-defined]
        user_class.connection_timeout = spec.request_timeout_s  # type: ignore[attr-defined]
    return Environment(
        user_classes=code.user_classes,
        shape_class=code.shape if with_shape else None,
        host=spec.target_url,
        catch_exceptions=True,
    )


def pacing_period_s(wait_time: Any) -> float | None:
    """The period of Locust's ``constant_pacing(t)`` (and ``constant_throughput(n)``, which
    is ``constant_pacing(1 / n)``), else None: only those say when a task is meant to run."""
    func = getattr(wait_time, "__func__", wait_time)
    if not getattr(func, "__qualname__", "").startswith("constant_pacing."):
        return None
    try:
        period = inspect.getclosurevars(func).nonlocals.get("wait_time")
    except TypeError:
        return None
    return float(period) if isinstance(period, int | float) and period > 0 else None


def pace_users(code: UserCode, recorder: LocustfileRecorder) -> None:
    """Users with ``constant_pacing`` / ``constant_throughput`` run their tasks on a fixed
    schedule (task k at k periods after the end of the first), as the open model sends:
    a task that starts late is charged from its intended start, every request in it, so a
    stall cannot hide (coordinated omission). A late user runs its late tasks at once."""
    for user_class in code.user_classes:
        period = pacing_period_s(user_class.__dict__.get("wait_time", user_class.wait_time))
        if period is None:
            continue
        recorder.paced_users.append(user_class.__name__)
        user_class.wait_time = _paced_wait(period, recorder)


def _paced_wait(period: float, recorder: LocustfileRecorder) -> Any:
    def wait_time(user: Any) -> float:
        now = time.time()
        intended = getattr(user, "_harness_next_s", now) + period
        user._harness_next_s = intended
        recorder.paced_tasks[gevent.getcurrent()] = [intended, None]
        return max(0.0, intended - now)

    return wait_time


def attach(env: Environment, recorder: LocustfileRecorder) -> None:
    env.events.request.add_listener(recorder.on_request)  # type: ignore[no-untyped-call]
    env.events.user_error.add_listener(recorder.on_user_error)  # type: ignore[no-untyped-call]


def start(runner: Runner, spec: LoadSpec, code: UserCode) -> None:
    if code.shape is not None:
        runner.start_shape()
    else:
        runner.start(spec.users, spawn_rate=SPAWN_RATE)


def over(runner: Runner, code: UserCode, started: float, spec: LoadSpec) -> bool:
    """The run is over: its time is up, or its shape has ended."""
    if time.monotonic() - started >= spec.duration_s:
        return True
    return code.shape is not None and runner.state == STATE_STOPPED


def run_local(spec: LoadSpec, code: UserCode, epoch: float) -> dict[str, Any]:
    recorder = LocustfileRecorder(epoch, spec.max_requests)
    parent = os.getppid()
    install_stop_signals(recorder.signal_stop)
    env = make_environment(spec, code, with_shape=True)
    pace_users(code, recorder)
    attach(env, recorder)
    runner = env.create_local_runner()
    deadline = hard_deadline(spec)
    started = time.monotonic()
    start(runner, spec, code)
    next_progress = started + 1.0
    timed_out = False
    while not (recorder.stop_requested or over(runner, code, started, spec)):
        if time.monotonic() > deadline:
            timed_out = True
            break
        if code.shape is None and runner.state == STATE_RUNNING and runner.user_count == 0:
            break  # every user died (on_start raised): nothing left to wait for
        recorder.budget_spent.wait(0.05)
        if time.monotonic() >= next_progress:
            next_progress += 1.0
            emit("progress", elapsed_s=time.monotonic() - started, **recorder.progress())
            if os.getppid() != parent:
                recorder.signal_stop()
    runner.quit()
    return {
        "reports": [recorder.report()],
        "interrupted": timed_out or recorder.signalled,
        "timed_out": timed_out,
    }


def run_master(spec: LoadSpec, code: UserCode, epoch: float) -> dict[str, Any]:
    """The Locust master for ``spec.processes`` workers: runs the shape (or starts the
    users), ends the run (at once when every worker died), collects the reports of the
    workers that are still there."""
    parent = os.getppid()
    stop = gevent.event.Event()
    install_stop_signals(stop.set)
    env = make_environment(spec, code, with_shape=True)
    runner = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=0)
    progress: dict[str, dict[str, Any]] = {}
    reports: dict[str, dict[str, Any]] = {}

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        if "harness_progress" in data:
            progress[client_id] = data["harness_progress"]

    def on_final_report(environment: Environment, msg: Any) -> None:
        reports[msg.node_id] = msg.data

    env.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]
    runner.register_message("harness_report", on_final_report)
    emit("ready", port=runner.server.port)
    await_workers(runner, spec.processes, stop)
    started = time.monotonic()
    start(runner, spec, code)
    next_progress = started + 1.0

    def total(key: str) -> int:
        return sum(int(p[key]) for p in progress.values())

    while not (stop.is_set() or over(runner, code, started, spec)):
        if spec.max_requests is not None and total("requests") >= spec.max_requests:
            break
        if not live_workers(runner):
            break  # every worker died mid-run: nothing left to wait for
        gevent.sleep(0.05)
        if time.monotonic() >= next_progress:
            next_progress += 1.0
            emit(
                "progress",
                elapsed_s=time.monotonic() - started,
                requests=total("requests"),
                failures=total("failures"),
            )
            if os.getppid() != parent:
                stop.set()
    collected = collect_reports(runner, reports, spec.processes, lambda: live_workers(runner))
    return collected | {"interrupted": stop.is_set(), "timed_out": False}


def run_worker(spec: LoadSpec, code: UserCode, epoch: float, master_port: int) -> None:
    # A worker's share of max_requests is enforced by the master, which sees every count.
    recorder = LocustfileRecorder(epoch, None)
    env = make_environment(spec, code, with_shape=False)
    pace_users(code, recorder)
    attach(env, recorder)
    runner = env.create_worker_runner("127.0.0.1", master_port)

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        data["harness_progress"] = recorder.progress()

    def on_flush(environment: Environment, msg: Any) -> None:
        recorder.stop_requested = True
        runner.stop()
        runner.send_message("harness_report", recorder.report())

    env.events.report_to_master.add_listener(on_report_to_master)  # type: ignore[no-untyped-call]
    runner.register_message("harness_flush", on_flush)
    install_stop_signals(lambda: None)  # the master owns the run
    limit = (
        hard_deadline(spec) - time.monotonic() + WORKER_CONNECT_TIMEOUT_S + WORKER_REPORT_TIMEOUT_S
    )
    runner.greenlet.join(timeout=limit)
    if len(runner.greenlet):  # a gevent Group (no .dead): greenlets still running
        runner.quit()


def check_main(path: str) -> int:
    """Import ``path`` and print one JSON line: what it holds, or why it cannot be used."""
    try:
        code = UserCode(path)
    except LookupError as exc:
        emit("locustfile", ok=False, error=str(exc))
        return 1
    except BaseException as exc:  # whatever the file raises on import is the user's error
        where = last_frame(exc.__traceback__)
        emit(
            "locustfile",
            ok=False,
            error=f"failed to import: {type(exc).__name__}: {exc} at {where}",
        )
        return 1
    emit("locustfile", ok=True, **code.describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load.locustfile_run")
    parser.add_argument("--check", metavar="LOCUSTFILE", help="import it, say what it holds")
    parser.add_argument("--spec", help="LoadSpec JSON file")
    parser.add_argument("--result", help="where to write the result JSON (local, master)")
    parser.add_argument("--role", choices=("local", "master", "worker"), default="local")
    parser.add_argument("--epoch", type=float, default=0.0)
    parser.add_argument("--master-port", type=int, default=0)
    parser.add_argument("--worker-index", type=int, default=0)
    parser.add_argument("--snapshot")  # accepted for the driver; a locustfile run takes none
    parser.add_argument("--snapshot-every-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    print_stacks_on_sigusr1()
    setup_logging("WARNING")  # type: ignore[no-untyped-call]
    if args.check:
        return check_main(args.check)
    if not args.spec:
        parser.error("--spec is required")
    with open(args.spec, encoding="utf-8") as f:
        spec = LoadSpec.from_json(json.load(f))
    spec.validate(where=args.spec)
    assert spec.locustfile is not None, "a spec without a locustfile belongs to harness.load.worker"
    guard_connections(spec.allow_non_loopback)
    code = UserCode(spec.locustfile)
    if args.role == "worker":
        run_worker(spec, code, args.epoch, args.master_port)
        return 0
    if not args.result:
        parser.error("--result is required for the local and master roles")
    if args.role == "local":
        result = run_local(spec, code, args.epoch)
    else:
        result = run_master(spec, code, args.epoch)
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
