"""The harness's pytest plugin (entry point ``pytest11: moonbase``).

Loaded in every pytest session on a machine with the harness installed, it is inert
unless its options are given, except for fixtures a test asks for by name:

- ``target_url`` / ``api_token``: the Moonbase API under test, from
  ``MOONBASE_TARGET_URL`` / ``MOONBASE_API_TOKEN`` or, when unset, a reference API this
  worker starts on a free loopback port and stops at the end of its session; a
  ``MOONBASE_TARGET_URL`` outside 127.0.0.0/8 is refused (the tests that ask for it
  error, nothing is sent to it) unless ``--moonbase-allow-non-loopback`` is given;
- ``moonbase_target``: a reference API of the test's own (its own database);
- ``free_tcp_port``: a loopback port that was free a moment ago;
- ``isolated_env``: the test runs in its own temporary working directory with its own
  ``TMPDIR``, and the environment is restored afterwards.

Options the runner passes:

- ``--moonbase-records PATH``: one JSON line per test run, written by the controller
  (the xdist main process) through a shared memory map (:mod:`harness.journal`), so
  that each line is in the file as it is stored and nothing is lost on a crash, and
  a ``{"event": "started"}`` line as each test run starts, so that whoever ends the
  session (the runner's budget watchdog) knows which runs it cut off;
- ``--moonbase-repeat N``: every test N times, as parametrized copies, in one session;
- ``--moonbase-seed S``: shuffle the test order with seed S (the same on every worker);
- ``--moonbase-exit-with-parent``: the session ends (its whole process group) when the
  runner that started it is gone, also after a ``kill -9`` of the runner;
- ``--moonbase-allow-non-loopback``: the user's explicit ``--allow-non-loopback``, which
  lets ``MOONBASE_TARGET_URL`` name a host outside 127.0.0.0/8.

With ``MOONBASE_COVERAGE_CONTEXTS=127.0.0.1:PORT`` (the coverage phase sets it), each test
names itself to the target's coverage host (:mod:`harness.coverage_host`) before its setup
and again after its teardown, so that the target's lines are recorded per test.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.coverage_host import CONTEXTS_ENV as COVERAGE_CONTEXTS_ENV
from harness.journal import Journal

__all__ = ["REPEAT_ID", "base_nodeid", "require_component"]

REPEAT_ID = "moonbase-r"
TARGET_URL_ENV = "MOONBASE_TARGET_URL"
_REPEAT_RE = re.compile(REPEAT_ID + r"(\d+)")
# the repeat id alone, first, in the middle or last among a test's own parameter ids
_REPEAT_PARTS = (
    re.compile(r"\[" + REPEAT_ID + r"\d+\]$"),
    re.compile(r"(?<=\[)" + REPEAT_ID + r"\d+-"),
    re.compile(r"-" + REPEAT_ID + r"\d+(?=[-\]])"),
)


def base_nodeid(nodeid: str) -> str:
    """The node id without the repeat parameter the plugin adds (``t[moonbase-r3]`` -> ``t``)."""
    for pattern in _REPEAT_PARTS:
        stripped = pattern.sub("", nodeid, count=1)
        if stripped != nodeid:
            return stripped
    return nodeid


def require_component(name: str, available: bool, hint: str = "") -> None:
    """Skip a test whose real component is missing on a laptop; fail it in CI (CI=true),
    where every real component is installed and its tests must run."""
    if available:
        return
    message = f"{name} is not available{hint}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(message)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moonbase", "Moonbase reliability harness")
    group.addoption("--moonbase-records", default=None, help="write one JSON line per test run")
    group.addoption("--moonbase-repeat", type=int, default=1, help="run every test N times")
    group.addoption("--moonbase-seed", type=int, default=None, help="shuffle tests with this seed")
    group.addoption(
        "--moonbase-timeout-s", type=float, default=None, help="the per-test timeout (for records)"
    )
    group.addoption(
        "--moonbase-allow-non-loopback",
        action="store_true",
        default=False,
        help=f"let {TARGET_URL_ENV} name a host outside 127.0.0.0/8 (refused without this)",
    )
    group.addoption(
        "--moonbase-hard-timeout-s",
        type=float,
        default=None,
        help="end an xdist worker whose test outlives this (stuck where no signal reaches it)",
    )
    group.addoption(
        "--moonbase-exit-with-parent",
        action="store_true",
        default=False,
        help="end the session (its process group) when the process that started it is gone",
    )


@pytest.hookimpl(trylast=True)  # after the test's own parametrize marks: its id goes last
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    count = metafunc.config.getoption("moonbase_repeat", 1) or 1
    if count > 1:
        metafunc.fixturenames.append("_moonbase_repeat")
        metafunc.parametrize(
            "_moonbase_repeat", range(1, count + 1), ids=lambda i: f"{REPEAT_ID}{i}"
        )


@pytest.fixture
def _moonbase_repeat(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    seed = config.getoption("moonbase_seed", None)
    if seed is not None:
        # every xdist worker shuffles with the same seed, so their collections agree
        random.Random(seed).shuffle(items)


# -- records, written by the controller ------------------------------------------------


class _Recorder:
    def __init__(self, path: Path, timeout_s: float | None) -> None:
        self._journal = Journal(path)  # each line in the file as it is stored: crash-safe
        self._timeout_s = timeout_s
        self._phases: dict[str, dict[str, Any]] = {}
        self._started: dict[str, float] = {}
        self._ids: dict[str, dict[str, Any]] = {}  # each run's _run_ids, from its start
        self._announced = False
        self._after_rerun: set[str] = set()

    def collected(self, count: int) -> None:
        if not self._announced:  # every xdist worker reports the same collection
            self._announced = True
            self._write({"event": "collected", "count": count})

    def start(self, nodeid: str) -> None:
        self._started[nodeid] = time.monotonic()
        ids = self._ids[nodeid] = _run_ids(nodeid)
        # not a trial: it tells whoever ends this session early which runs were in flight
        self._write({"event": "started", **ids, "t": time.time()})

    def _write(self, record: dict[str, Any]) -> None:
        self._journal.append((_ENCODE(record) + "\n").encode())

    def report(self, rep: pytest.TestReport) -> None:
        if rep.nodeid in self._after_rerun:
            # the rest of an attempt that was already recorded as a failed rerun
            if rep.when != "setup":
                return
            self._after_rerun.discard(rep.nodeid)
        state = self._phases.setdefault(
            rep.nodeid, {"outcome": "passed", "duration_s": 0.0, "message": ""}
        )
        state["duration_s"] += rep.duration
        # when the run's setup began, by the worker's clock (0 in xdist's report of a crash)
        if "start" not in state and rep.start:
            state["start"] = rep.start
        worker = getattr(rep, "node", None)
        state["worker"] = getattr(getattr(worker, "gateway", None), "id", None) or "main"
        text = str(rep.longrepr) if rep.longrepr is not None else ""
        if str(rep.outcome) == "rerun":  # pytest-rerunfailures adds this outcome
            # a failed attempt the user's rerun plugin will retry: it counts as a failure
            self._emit(rep.nodeid, "failed", state["duration_s"], text, rerun=True, **_start(state))
            self._phases.pop(rep.nodeid, None)
            self._after_rerun.add(rep.nodeid)
            return
        if rep.failed:
            crashed = "crashed while running" in text
            elapsed = time.monotonic() - self._started.get(rep.nodeid, time.monotonic())
            if "Timeout" in text or (
                crashed and self._timeout_s is not None and elapsed >= 0.9 * self._timeout_s
            ):
                outcome = "timeout"
            elif rep.when == "call":
                outcome = "failed"
            else:
                outcome = "error"
            if state["outcome"] == "passed":
                state["outcome"] = outcome
                state["message"] = _short(text)
            if crashed:  # no teardown report follows a crash
                self._finish(rep.nodeid)
                return
        elif rep.skipped and state["outcome"] == "passed":
            state["outcome"] = "skipped"
            state["message"] = _short(text)
        if rep.when == "teardown":
            self._finish(rep.nodeid)

    def _finish(self, nodeid: str) -> None:
        state = self._phases.pop(nodeid, None)
        if state is not None:
            self._emit(
                nodeid,
                state["outcome"],
                state["duration_s"],
                state["message"],
                worker=state.get("worker"),
                **_start(state),
            )
        self._started.pop(nodeid, None)  # held for a run in flight only
        self._ids.pop(nodeid, None)

    def _emit(
        self, nodeid: str, outcome: str, duration_s: float, message: str, **extra: Any
    ) -> None:
        self._write(
            {
                **(self._ids.get(nodeid) or _run_ids(nodeid)),
                "outcome": outcome,
                "duration_s": round(duration_s, 6),
                "message": _short(message),
                "t": time.time(),
                **extra,
            }
        )

    def close(self) -> None:
        for nodeid in list(self._phases):
            self._finish(nodeid)
        self._journal.close()


def _start(state: dict[str, Any]) -> dict[str, float]:
    """When the run's setup began, by the clock of the worker that ran it (the line's ``t``
    is when the controller wrote it, which for runs reported in one batch is one time)."""
    return {"start": round(state["start"], 6)} if "start" in state else {}


# json.dumps(record, sort_keys=True) exactly (its readers match '"event": "started"'),
# without building an encoder for every line as dumps does when given an option
_ENCODE = json.JSONEncoder(sort_keys=True).encode


def _run_ids(nodeid: str) -> dict[str, Any]:
    """The fields that name one run of one test in every line of the records file."""
    match = _REPEAT_RE.search(nodeid[nodeid.find("[") :]) if "[" in nodeid else None
    return {
        "nodeid": base_nodeid(nodeid),
        "run_nodeid": nodeid,
        "repeat": int(match.group(1)) if match else 1,
    }


def _short(text: str, limit: int = 500) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-5:])
    return tail[-limit:]


_RECORDER = pytest.StashKey[_Recorder]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _end_stuck_worker(nodeid: str, after_s: float) -> None:
    sys.stderr.write(
        f"\n+++ Timeout: {nodeid} still running after {after_s} s, out of reach of "
        "pytest-timeout's signal (stuck in a C call?): ending this worker +++\n"
    )
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(1)  # xdist reports the crash and replaces the worker


class _HardDeadline:
    """One watchdog thread per worker for every test it runs (a timer thread per test run
    cost more than a trivial test itself): each test sets ``current``, the thread looks
    a few times a second and ends the worker when a test outlives ``after_s``."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self.current: tuple[str, float] | None = None  # (nodeid, monotonic start)
        self._tick_s = max(0.05, min(0.5, after_s / 10))
        threading.Thread(target=self._watch, name="moonbase-hard-deadline", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self._tick_s)
            current = self.current
            if current is not None and time.monotonic() - current[1] >= self.after_s:
                _end_stuck_worker(current[0], self.after_s)


_HARD_DEADLINE: dict[str, _HardDeadline] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """The second line behind pytest-timeout's signal method: a test stuck where SIGALRM
    cannot reach it (a C call with signals blocked) ends its worker at the hard deadline."""
    after_s = item.config.getoption("moonbase_hard_timeout_s", None)
    if after_s is None or not _is_worker(item.config):
        yield
        return
    watchdog = _HARD_DEADLINE.get("worker")
    if watchdog is None:
        watchdog = _HARD_DEADLINE["worker"] = _HardDeadline(after_s)
    watchdog.current = (item.nodeid, time.monotonic())
    try:
        yield
    finally:
        watchdog.current = None


# -- coverage contexts (harness.coverage_host): the test about to run, named to the target

_CONTEXTS: dict[str, Any] = {}


def _switch_coverage_context(name: str) -> None:
    """Tell the target's coverage host which test runs now ("" between tests), and wait
    for its ``ok``: the lines the target runs from here on are recorded under ``name``."""
    address = os.environ.get(COVERAGE_CONTEXTS_ENV)
    if not address or _CONTEXTS.get("broken"):
        return
    host, _, port = address.rpartition(":")
    try:
        stream = _CONTEXTS.get("stream")
        if stream is None:
            if not host.startswith("127."):
                raise OSError(f"{COVERAGE_CONTEXTS_ENV}={address}: not a loopback address")
            conn = socket.create_connection((host, int(port)), timeout=10.0)
            stream = _CONTEXTS["stream"] = conn.makefile("rwb")
        stream.write(name.encode() + b"\n")
        stream.flush()
        if stream.readline().strip() != b"ok":
            raise OSError("the coverage host did not answer ok")
    except (OSError, ValueError) as exc:  # the run goes on; its contexts are per category
        _CONTEXTS["broken"] = True
        print(f"moonbase: coverage contexts per test are off: {exc}", file=sys.stderr)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _switch_coverage_context(base_nodeid(item.nodeid))


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    _switch_coverage_context("")


def _watch_parent(parent: int) -> None:
    """The runner was killed (``kill -9`` leaves no one to end this session): end the
    session's process group, this controller and its workers. Every run recorded so far
    is in the records file already (:mod:`harness.journal`)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    try:  # the runner read this session's output: the pipe may be broken now
        sys.stderr.write("moonbase: the runner that started this session is gone: ending it\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if os.getpgrp() == os.getpid():  # the runner starts the session as a group of its own
        os.killpg(os.getpid(), signal.SIGTERM)
    os._exit(1)


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config):
        return
    path = config.getoption("moonbase_records", None)
    if path:
        config.stash[_RECORDER] = _Recorder(
            Path(path), config.getoption("moonbase_timeout_s", None)
        )
    if config.getoption("moonbase_exit_with_parent", False):
        threading.Thread(
            target=_watch_parent, args=(os.getppid(),), name="moonbase-parent", daemon=True
        ).start()


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.close()


def _recorder() -> _Recorder | None:
    config = _CONFIG.get("config")
    return None if config is None else config.stash.get(_RECORDER, None)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    recorder = _recorder()
    if recorder is not None:
        recorder.start(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    recorder = _recorder()
    if recorder is not None:
        recorder.report(report)


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG["config"] = session.config


def pytest_collection_finish(session: pytest.Session) -> None:
    recorder = _recorder()
    if recorder is not None:  # without xdist the controller collects itself
        recorder.collected(len(session.items))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    recorder = _recorder()
    if recorder is not None:
        recorder.collected(len(ids))


# -- fixtures ---------------------------------------------------------------------------


def _target_from_environment(config: pytest.Config) -> str | None:
    """``MOONBASE_TARGET_URL`` if set and allowed; a non-loopback host needs the allow flag.

    The check reads the URL only: a refused target is never sent a packet.
    """
    url = os.environ.get(TARGET_URL_ENV)
    if not url:
        return None
    from harness.errors import UnsafeTargetError
    from harness.netguard import ensure_loopback_url

    try:
        return ensure_loopback_url(
            url,
            where=f"the environment variable {TARGET_URL_ENV}",
            allow_non_loopback=bool(config.getoption("moonbase_allow_non_loopback", False)),
            allow_hint=(
                "pass --allow-non-loopback to reliable-test-runner "
                "(--moonbase-allow-non-loopback to pytest) to test a service elsewhere"
            ),
        )
    except UnsafeTargetError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def _moonbase_shared_target(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    url = _target_from_environment(pytestconfig)
    if url:
        yield url, os.environ.get("MOONBASE_API_TOKEN", "")
        return
    from harness.target import ReferenceTarget

    data_dir = tmp_path_factory.mktemp("moonbase-target")
    with ReferenceTarget(data_dir, log_path=data_dir / "api.log") as target:
        yield target.url, target.token


@pytest.fixture
def target_url(_moonbase_shared_target: tuple[str, str]) -> str:
    """Base URL of the Moonbase API under test, e.g. ``http://127.0.0.1:41234``."""
    return _moonbase_shared_target[0]


@pytest.fixture
def api_token(_moonbase_shared_target: tuple[str, str]) -> str:
    """Bearer token for mutating calls on ``target_url``."""
    return _moonbase_shared_target[1]


@pytest.fixture
def moonbase_target(tmp_path: Path) -> Iterator[Any]:
    """A reference API of this test's own, with its own database; stopped after the test."""
    from harness.target import ReferenceTarget

    with ReferenceTarget(tmp_path / "moonbase", log_path=tmp_path / "api.log") as target:
        yield target


@pytest.fixture
def free_tcp_port() -> int:
    from harness.processes import free_port

    return free_port()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own working directory and TMPDIR; the environment is restored after the test."""
    saved = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(tmp_path))
    tempfile.tempdir = None
    try:
        yield tmp_path
    finally:
        os.environ.clear()
        os.environ.update(saved)
        tempfile.tempdir = None
