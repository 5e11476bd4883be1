"""Run a load phase: start the Locust child process(es), relay progress, collect the result.

Locust never runs in the harness process (see :mod:`harness.load.worker` for why). The
driver starts ``python -m harness.load.worker`` (one ``local`` process, or one ``master``
plus ``processes`` workers), reads their progress lines, and builds a :class:`LoadResult`
from the reports they write. Every child is ended by its PID when the driver returns,
raises, or is interrupted, and the whole run is bounded by a hard deadline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.errors import LoadGeneratorError
from harness.load.result import LoadProgress, LoadResult, StoppedEarly, merge_reports
from harness.load.spec import LoadSpec

__all__ = [
    "LoadHandle",
    "LoadInterrupted",
    "child_env",
    "loop_backend",
    "run_load",
    "start_load",
]

ProgressCallback = Callable[[LoadProgress], None]
# judged on each progress snapshot: None goes on; (by, reason) ends the load early
StopRule = Callable[[LoadProgress], "tuple[str, str] | None"]

# Past duration_s + 2 x request_timeout_s (the children's own bound): Python + Locust
# import (~1 s each on a busy machine), workers connecting (worker.py allows 30 s),
# draining and final reports.
HARD_DEADLINE_GRACE_S = 60.0
# How long a signalled child may take to write its partial result before it is killed.
STOP_GRACE_S = 10.0
STDERR_TAIL_CHARS = 3000


# ``python -m harness.load.worker``, but with locust imported before the ``harness``
# package: whatever ``harness/__init__`` comes to import (httpx, ssl), gevent's
# monkey-patching must come first or ssl dies with RecursionError.
def bootstrap(module: str = "harness.load.worker") -> str:
    """``python -c`` code that runs ``module`` as ``__main__`` with locust imported first.
    Its first line makes SIGUSR1 print the stacks (the default would end the process):
    ``kill -USR1`` is safe from that line on (the interpreter's own first ~30 ms before it
    are not), not only once locust is in."""
    return (
        "import faulthandler, signal; faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
        f"import locust, runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )


# libev's epoll backend (gevent's default) wakes timers on whole milliseconds, the unit of
# epoll_wait's timeout: a paced request left up to 1 ms late, which its latency (from the
# intended send time) charged to the target (p50 1.0 ms against 0.56 ms with select at
# 1,000 req/s, bench/RESULTS.md). select's timeout is in microseconds, but it scans every
# descriptor on each turn of the loop, so it is kept for runs of few connections.
SELECT_MAX_CONNECTIONS = 1024


def loop_backend(spec: LoadSpec | None) -> str:
    """The libev backend for a Locust process of ``spec`` (None: its spec comes later, from
    a master, as in ``load-worker``): ``select`` up to SELECT_MAX_CONNECTIONS planned
    connections (users, and in the open model the requests in flight), else ``epoll``."""
    if spec is None:
        return "select"
    connections = spec.users + (spec.max_in_flight if spec.rate_rps > 0 else 0)
    return "select" if connections <= SELECT_MAX_CONNECTIONS else "epoll"


def child_env(spec: LoadSpec | None) -> dict[str, str]:
    """The environment of a Locust child: ours, with GEVENT_BACKEND set to
    :func:`loop_backend` unless the user set it."""
    env = dict(os.environ)
    env.setdefault("GEVENT_BACKEND", loop_backend(spec))
    return env


# a locustfile's users run in a module of their own (harness.load.locustfile_run), and a
# master for workers started elsewhere in another (harness.load.remote)
LOCUSTFILE_MODULE = "harness.load.locustfile_run"
REMOTE_MODULE = "harness.load.remote"
# the remote master's wait for its workers (remote.REMOTE_CONNECT_TIMEOUT_S)
REMOTE_CONNECT_S = 60.0


def child_module(spec: LoadSpec) -> str:
    """The module the Locust child runs for ``spec``."""
    if spec.expect_workers:
        return REMOTE_MODULE
    return LOCUSTFILE_MODULE if spec.locustfile else "harness.load.worker"


class LoadInterrupted(KeyboardInterrupt):
    """The harness was interrupted during the load: ``result`` is what was measured until
    then (histograms and counts, ``interrupted=True``), or None when the load could not
    say; ``cause`` is the interruption itself, to be raised again once that is recorded."""

    def __init__(self, result: LoadResult | None, cause: KeyboardInterrupt) -> None:
        super().__init__(str(cause))
        self.result = result
        self.cause = cause


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[str]
    stderr_path: Path
    stderr_file: IO[str]

    def stderr_tail(self) -> str:
        self.stderr_file.flush()
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-STDERR_TAIL_CHARS:]


@dataclass
class _Run:
    spec: LoadSpec
    workdir: Path
    epoch: float = field(default_factory=time.time)
    children: list[_Child] = field(default_factory=list)
    lines: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)

    def start_child(self, role: str, *extra: str, stdout: bool) -> _Child:
        name = role if role != "worker" else f"worker {len(self.children) - 1}"
        stderr_path = self.workdir / f"{name.replace(' ', '-')}.stderr"
        stderr_file = stderr_path.open("w", encoding="utf-8")
        argv = [
            sys.executable,
            "-c",
            bootstrap(child_module(self.spec)),
            "--role",
            role,
            "--spec",
            str(self.workdir / "spec.json"),
            "--epoch",
            repr(self.epoch),
            *extra,
        ]
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=stderr_file,
            text=True,
            env=child_env(self.spec),
            # Its own session: a terminal Ctrl-C reaches the harness only, which then ends
            # the children itself, by PID, after collecting what they have.
            start_new_session=True,
        )
        child = _Child(name, process, stderr_path, stderr_file)
        self.children.append(child)
        if stdout:
            threading.Thread(
                target=self._read_lines, args=(process,), daemon=True, name=f"load-{name}-stdout"
            ).start()
        return child

    def _read_lines(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                parsed = json.loads(line)
            except ValueError:
                continue  # not ours: a stray print from a library; stderr has the logs
            if isinstance(parsed, dict):
                self.lines.put(parsed)
        self.lines.put(None)

    def failure(self, what: str) -> LoadGeneratorError:
        tails = "\n".join(
            f"--- {c.name} (pid {c.process.pid}, exit {c.process.poll()}) stderr tail ---\n"
            f"{c.stderr_tail()}"
            for c in self.children
        )
        return LoadGeneratorError(f"load generator against {self.spec.target_url}: {what}\n{tails}")

    def end_children(self) -> None:
        """End every child this run started, by PID: SIGTERM, then SIGKILL."""
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            try:
                child.process.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(timeout=5.0)
            if child.process.stdout is not None:
                child.process.stdout.close()
            child.stderr_file.close()


def run_load(
    spec: LoadSpec,
    *,
    progress: ProgressCallback | None = None,
    stop_rule: StopRule | None = None,
) -> LoadResult:
    """Run ``spec`` to completion (bounded by time, count and a hard deadline).

    ``progress`` is called about once a second, in the calling thread; an exception from
    it ends the run and propagates. ``stop_rule`` is judged on the same snapshots (with
    ``spec.live_progress`` they carry the histograms): once it answers ``(by, reason)``
    the load is stopped and the result says so (:class:`StoppedEarly`). Raises
    :class:`LoadGeneratorError` (with the child's stderr tail) when the load process
    fails, and the spec's own errors when it is invalid.
    """
    if stop_rule is None:
        return _run(spec, progress, None)
    stop = threading.Event()
    said: list[StoppedEarly] = []

    def judged(snapshot: LoadProgress) -> None:
        if progress is not None:
            progress(snapshot)
        if not said and (verdict := stop_rule(snapshot)) is not None:
            said.append(StoppedEarly(round(snapshot.elapsed_s, 3), verdict[1], verdict[0]))
            stop.set()

    result = _run(spec, judged, stop)
    if not said:
        return result
    # ended on purpose, not interrupted: what was measured until then is the result
    return dataclasses.replace(result, interrupted=False, stopped_early=said[0])


class LoadHandle:
    """A load run in a background thread: :meth:`wait` for its result, or :meth:`stop` it."""

    def __init__(self, spec: LoadSpec, snapshot_every_s: float | None = None) -> None:
        spec.validate()
        self.spec = spec
        # with snapshot_every_s (one load process): its partial result, every so often
        self._snapshot_dir = (
            Path(tempfile.mkdtemp(prefix="moonbase-load-snapshot-")) if snapshot_every_s else None
        )
        self._snapshot_every_s = snapshot_every_s or 0.0
        self._stop = threading.Event()
        self._result: LoadResult | None = None
        self._error: BaseException | None = None
        self._latest: LoadProgress | None = None
        self._thread = threading.Thread(target=self._main, name="moonbase-load", daemon=True)
        self._thread.start()

    @property
    def _snapshot_path(self) -> Path | None:
        return None if self._snapshot_dir is None else self._snapshot_dir / "snapshot.json"

    def _main(self) -> None:
        path = self._snapshot_path
        try:
            snapshot = None if path is None else (path, self._snapshot_every_s)
            self._result = _run(self.spec, self._on_progress, self._stop, snapshot)
        except BaseException as exc:  # handed to wait(), which re-raises it
            self._error = exc
        finally:
            if self._snapshot_dir is not None:
                shutil.rmtree(self._snapshot_dir, ignore_errors=True)

    def snapshot(self) -> LoadResult | None:
        """The load process's latest partial result (marked interrupted), or None: before
        its first snapshot, after the run ended, or without ``snapshot_every_s``."""
        path = self._snapshot_path
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            return None
        if not data:
            return None
        return merged(self.spec, data["reports"], interrupted=True)

    def _on_progress(self, snapshot: LoadProgress) -> None:
        self._latest = snapshot

    @property
    def latest_progress(self) -> LoadProgress | None:
        """The last progress snapshot, or None before the first."""
        return self._latest

    def done(self) -> bool:
        """True once the run has finished (with a result or an error)."""
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Ask the run to stop now; :meth:`wait` then returns the partial result."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> LoadResult:
        """The result; raises TimeoutError if not done within ``timeout`` seconds."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(
                f"load run against {self.spec.target_url} still running after {timeout} s"
            )
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def start_load(spec: LoadSpec, snapshot_every_s: float | None = None) -> LoadHandle:
    """Start ``spec`` in the background and return its :class:`LoadHandle`; with
    ``snapshot_every_s`` (one load process), :meth:`LoadHandle.snapshot` reads what it
    measured so far."""
    if snapshot_every_s is not None and spec.processes > 1:
        raise ValueError("snapshots need a load in one process (processes=1)")
    return LoadHandle(spec, snapshot_every_s)


def _pump(
    run: _Run,
    main: _Child,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    deadline: float,
    limit_s: float,
) -> bool:
    """Relay the main child's lines until it closes its output (the run is over); True when
    ``stop`` made it send the child SIGTERM."""
    spec = run.spec
    distributed = spec.processes > 1 and not spec.expect_workers  # local workers to start
    stop_sent_at: float | None = None
    while True:
        if time.monotonic() > deadline:
            raise run.failure(
                f"no result within the hard deadline ({limit_s:.0f} s); children killed"
            )
        if stop is not None and stop.is_set() and stop_sent_at is None:
            stop_sent_at = time.monotonic()
            main.process.send_signal(signal.SIGTERM)
        if stop_sent_at is not None and time.monotonic() > stop_sent_at + STOP_GRACE_S:
            raise run.failure(f"did not stop within {STOP_GRACE_S} s of being asked")
        try:
            line = run.lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            return stop_sent_at is not None
        if line.get("type") == "ready" and distributed:
            port = str(int(line["port"]))
            for index in range(spec.processes):
                run.start_child(
                    "worker", "--master-port", port, "--worker-index", str(index), stdout=False
                )
        elif line.get("type") == "progress" and progress is not None:
            progress(_progress_of(line, spec))


def _progress_of(line: dict[str, Any], spec: LoadSpec) -> LoadProgress:
    by_request = tuple(
        (str(name), int(b["requests"]), int(b["failures"]), str(b["histogram"]))
        for name, b in (line.get("by_request") or {}).items()
    )
    histogram = line.get("histogram")
    return LoadProgress(
        elapsed_s=float(line["elapsed_s"]),
        duration_s=spec.duration_s,
        requests=int(line["requests"]),
        failures=int(line["failures"]),
        dropped=int(line.get("dropped", 0)),
        histogram=None if histogram is None else str(histogram),
        by_request=by_request,
    )


def _result(
    run: _Run, main: _Child, result_path: Path, deadline: float, *, stopped: bool = False
) -> LoadResult:
    """The merged result the main child wrote once it ended. ``stopped``: the harness sent
    it SIGTERM; a child that died of it had no handler in place: still starting (it sent
    nothing: an empty, interrupted result, not a failure), or already ending (what it
    wrote stands)."""
    try:
        code = main.process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise run.failure("closed its output but did not exit") from None
    ours = stopped and code == -signal.SIGTERM
    if ours and not result_path.is_file():
        return merged(run.spec, [], interrupted=True)
    if code != 0 and not ours:
        raise run.failure(f"exited with code {code}")
    try:
        data = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise run.failure(f"wrote no readable result ({exc})") from None
    return merged(
        run.spec,
        data["reports"],
        interrupted=bool(data["interrupted"]),
        workers_expected=int(data.get("workers_expected", 0)),
    )


def merged(
    spec: LoadSpec,
    reports: list[dict[str, Any]],
    *,
    interrupted: bool,
    workers_expected: int = 0,
) -> LoadResult:
    """The processes' reports of a run of ``spec``, added into one :class:`LoadResult`
    (with Locust workers, ``workers_expected`` says how many were to take part)."""
    result = merge_reports(
        reports,
        intended_rate_rps=spec.mean_rate_rps if spec.stages else spec.rate_rps,
        users=spec.users,
        model=spec.model,
        interrupted=interrupted,
        max_in_flight=spec.max_in_flight,
    )
    return dataclasses.replace(
        result,
        stages=spec.stages,
        locustfile=spec.locustfile,  # the user's locustfile, when one ran
        workers_expected=workers_expected,
        master_bind=spec.master_bind if spec.expect_workers else None,
    )


def _partial(run: _Run, main: _Child, result_path: Path) -> LoadResult | None:
    """After an interruption of the harness: stop the main child and read what it measured
    (it writes its histograms and counts on SIGTERM); None when it cannot within the grace."""
    if main.process.poll() is None:
        main.process.send_signal(signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE_S
    try:
        while time.monotonic() < end:
            try:
                if run.lines.get(timeout=0.1) is None:
                    break
            except queue.Empty:
                continue
        result = _result(run, main, result_path, end, stopped=True)
    except LoadGeneratorError:
        return None
    return dataclasses.replace(result, interrupted=True)


def _run(
    spec: LoadSpec,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    snapshot: tuple[Path, float] | None = None,
) -> LoadResult:
    spec.validate()
    workdir = Path(tempfile.mkdtemp(prefix="moonbase-load-"))
    run = _Run(spec, workdir)
    try:
        (workdir / "spec.json").write_text(json.dumps(spec.to_json()), encoding="utf-8")
        result_path = workdir / "result.json"
        limit_s = spec.duration_s + 2 * spec.request_timeout_s + HARD_DEADLINE_GRACE_S
        if spec.expect_workers:
            limit_s += REMOTE_CONNECT_S
        deadline = time.monotonic() + limit_s
        role = "master" if spec.processes > 1 or spec.expect_workers else "local"
        extra = ["--result", str(result_path)]
        if spec.expect_workers:
            extra += ["--bind", str(spec.master_bind)]
        if snapshot is not None and role == "local":
            extra += ["--snapshot", str(snapshot[0]), "--snapshot-every-s", repr(snapshot[1])]
        main = run.start_child(role, *extra, stdout=True)
        try:
            stopped = _pump(run, main, progress, stop, deadline, limit_s)
        except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM (errors.Terminated)
            raise LoadInterrupted(_partial(run, main, result_path), exc) from exc
        return _result(run, main, result_path, deadline, stopped=stopped)
    finally:
        run.end_children()
        shutil.rmtree(workdir, ignore_errors=True)
