"""Running pytest sessions: isolated, parallel, repeated, under a whole-run watchdog.

Each batch is one ``python -m pytest`` child in its own process group, spread over
pytest-xdist workers, each test under pytest-timeout; the harness plugin writes one JSON
line per test run, which this module tails for live progress. At the budget the whole
process tree is ended and the records so far still count; the runs in flight at that
moment are recorded as cut off (listed, not counted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InfrastructureError, UsageError
from harness.journal import complete_end, seal
from harness.netguard import ensure_loopback_url
from harness.processes import kill_tree
from harness.runner.records import (
    CutOffRun,
    Tally,
    TestRecord,
    cut_off_line,
    in_flight,
    iter_lines,
    read_cut_off,
)

__all__ = ["Progress", "RunSpec", "TestPhaseResult", "run_tests"]

TARGET_URL_ENV = "MOONBASE_TARGET_URL"
_STARTED = b'"event": "started"'  # as the plugin writes it (json.dumps, sort_keys)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What to run and how; paths and node ids are relative to ``rootdir``."""

    rootdir: Path
    paths: tuple[str, ...] = ()
    keyword: str = ""
    markexpr: str = ""
    workers: str = "2"
    repeat: int = 1
    timeout_s: float = 30.0
    # "signal" ends a hung test cleanly inside its worker; "thread" also ends tests stuck in
    # C calls, by ending the worker (xdist replaces it), at the price of a restart each time
    timeout_method: str = "signal"
    budget_s: float = 600.0
    seed: int | None = None
    until_confident: bool = False
    slo: float = 0.99
    env: Mapping[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    max_batch_repeat: int = 1000
    # the user's --allow-non-loopback: MOONBASE_TARGET_URL may then name another host
    allow_non_loopback: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """Live progress. ``runs`` counts every ended test run (skips too, so the bar can
    fill); ``expected`` is what the batches so far will make, ``None`` while a batch has
    not collected yet, and never below ``runs``: ``--until-confident`` grows it a batch
    at a time."""

    runs: int
    expected: int | None
    failures: int
    flaky: int
    elapsed_s: float
    batch: int


@dataclass(frozen=True, slots=True)
class TestPhaseResult:
    tests: tuple[TestRecord, ...]
    run_count: int  # ended test runs, skips included (the runs themselves are in the file)
    budget_exhausted: bool
    interrupted: bool
    pytest_exit_codes: tuple[int, ...]
    batches: int
    seed: int | None
    duration_s: float
    argv: tuple[str, ...]
    output_tail: tuple[str, ...]
    internal_error: str | None = None
    # runs in flight when the session was ended (budget or interrupt): not in ``runs``
    cut_off: tuple[CutOffRun, ...] = ()
    # what interrupted the session (SIGINT, or SIGTERM as the CLI raises it), to re-raise
    # once the partial results are kept
    interruption: KeyboardInterrupt | None = None


def _argv(spec: RunSpec, records: Path, repeat: int, selection: Sequence[str]) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:locust",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rN",
        "--no-header",
        "-o",
        "console_output_style=classic",
        f"--moonbase-records={records}",
        "--moonbase-exit-with-parent",
        f"--moonbase-repeat={repeat}",
        f"--moonbase-timeout-s={spec.timeout_s}",
        f"--timeout={spec.timeout_s}",
        f"--timeout-method={spec.timeout_method}",
        f"--rootdir={spec.rootdir}",
    ]
    if spec.timeout_method == "signal":
        # pytest-timeout's signal cannot end a test stuck in a C call with signals blocked:
        # the plugin ends such a worker at this later, hard deadline
        argv.append(f"--moonbase-hard-timeout-s={spec.timeout_s * 1.5 + 5:g}")
    if spec.workers not in ("0", ""):
        # a crashed worker (thread timeout) is replaced, however often it happens
        argv += ["-n", spec.workers, "--max-worker-restart=100000"]
    if spec.seed is not None:
        argv.append(f"--moonbase-seed={spec.seed}")
    if spec.allow_non_loopback:
        argv.append("--moonbase-allow-non-loopback")
    if spec.keyword:
        argv += ["-k", spec.keyword]
    if spec.markexpr:
        argv += ["-m", spec.markexpr]
    argv += list(spec.extra_args)
    argv += list(selection) if selection else list(spec.paths)
    return argv


def _run_batch(
    spec: RunSpec,
    records_path: Path,
    repeat: int,
    selection: Sequence[str],
    deadline: float,
    on_line: Callable[[], None],
) -> tuple[int | None, bool, list[str], list[str]]:
    """One pytest child; returns (exit code or None if killed, killed at budget, argv, tail)."""
    argv = _argv(spec, records_path, repeat, selection)
    # pytest's output is read only for its tail once it has exited (flushed then), so it
    # stays block-buffered: unbuffered, each progress dot was a write of its own in the
    # xdist controller, which hands the GIL to execnet's threads every time
    env = {**os.environ, **spec.env}
    try:
        proc = subprocess.Popen(
            argv,
            cwd=spec.rootdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise InfrastructureError(f"could not start pytest: {exc}") from exc
    tail: deque[str] = deque(maxlen=60)

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=pump, name="pytest-output", daemon=True)
    reader.start()
    killed = False
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                killed = True
                kill_tree(proc.pid, grace_s=2.0)
                break
            on_line()
            try:
                proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass
    except BaseException:
        kill_tree(proc.pid, grace_s=2.0)
        raise
    finally:
        reader.join(timeout=5)
        if not reader.is_alive() and proc.stdout is not None:
            # at EOF; a reader still blocked (a grandchild holds the pipe) keeps it open
            proc.stdout.close()
        on_line()
    return (None if killed else proc.returncode), killed, argv, list(tail)


class _RecordsTail:
    """The records file read once, as it grows: live counts for the progress bar, and the
    runs folded into their tests as they are read (:class:`Tally`), so that nothing reads
    the whole file again and no run is held as a record.

    The total is honest: a batch's expected runs are known only once that batch's own
    ``collected`` line is read (never a count left over from the previous batch), and it
    never shows fewer runs than have ended (a rerun adds a run that was not collected).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.tally = Tally()
        self.failures = 0
        self._base = 0  # runs ended before the current batch
        self._collected: int | None = None  # the current batch's, once it has collected
        self._outcomes: dict[str, set[str]] = {}
        self.cut_off: list[CutOffRun] = []

    @property
    def runs(self) -> int:
        """Ended test runs, skips included."""
        return self.tally.runs

    @property
    def flaky(self) -> int:
        return sum(1 for seen in self._outcomes.values() if "passed" in seen and len(seen) > 1)

    @property
    def expected(self) -> int | None:
        if self._collected is None:
            return None
        return max(self._base + self._collected, self.runs)

    def begin_batch(self) -> None:
        """A new pytest session is about to start: its total is unknown until it collects."""
        self.read_new()
        self._base = self.runs
        self._collected = None

    def read_new(self) -> None:
        with self._path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        # whole lines only: a torn last line, or the unwritten NUL tail of the journal,
        # waits for the next look
        end = complete_end(chunk)
        self._offset += end
        for line in chunk[:end].splitlines():
            if _STARTED in line:  # half the lines: only a session cut short needs them
                continue
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            if isinstance(raw, dict):
                self._take(raw)

    def _take(self, raw: dict[str, Any]) -> None:
        event = raw.get("event")
        if event == "collected":
            self._collected = int(raw["count"])
        elif event == "cut_off" and "nodeid" in raw:
            cut = read_cut_off(raw)
            self.cut_off.append(cut)
            self.tally.cut(cut)
        elif event is None and "outcome" in raw and "nodeid" in raw:
            self.tally.add_line(raw)
            outcome = raw["outcome"]
            if outcome == "skipped":
                return
            self.failures += outcome != "passed"
            self._outcomes.setdefault(str(raw.get("nodeid")), set()).add(outcome)


def _check_target(spec: RunSpec) -> None:
    """Refuse a non-loopback MOONBASE_TARGET_URL before any test starts (nothing is sent)."""
    url = {**os.environ, **spec.env}.get(TARGET_URL_ENV)
    if url:
        where = "the runner's environment" if TARGET_URL_ENV in spec.env else "the environment"
        ensure_loopback_url(
            url,
            where=f"{TARGET_URL_ENV} in {where}",
            allow_non_loopback=spec.allow_non_loopback,
        )


def _record_cut_offs(records_path: Path, tail: _RecordsTail, reason: str) -> None:
    """Append a ``cut_off`` line for every run that started and did not end."""
    seal(records_path)  # the killed writer's unwritten tail goes, a torn line is ended
    running = in_flight(iter_lines(records_path))
    if not running:
        return
    now = time.time()
    with records_path.open("ab") as fh:
        for run in running:
            cut = CutOffRun(
                nodeid=run.nodeid,
                run_nodeid=run.run_nodeid,
                repeat=run.repeat,
                running_s=max(0.0, now - run.started_t),
                reason=reason,
            )
            fh.write((json.dumps(cut_off_line(cut, now), sort_keys=True) + "\n").encode())
    tail.read_new()


class _Reporter:
    """Progress of the session from the records file, for ``on_progress``."""

    def __init__(
        self, tail: _RecordsTail, on_progress: Callable[[Progress], None] | None, start: float
    ) -> None:
        self.tail = tail
        self.on_progress = on_progress
        self.start = start
        self.batch = 1

    def __call__(self) -> None:
        self.tail.read_new()
        if self.on_progress is None:
            return
        self.on_progress(
            Progress(
                runs=self.tail.runs,
                expected=self.tail.expected,
                failures=self.tail.failures,
                flaky=self.tail.flaky,
                elapsed_s=time.monotonic() - self.start,
                batch=self.batch,
            )
        )


def _judge_exit(code: int, spec: RunSpec, runs: int, tail: list[str]) -> str | None:
    """What a pytest exit code means for the run (``runs``: the test runs recorded so far):
    raises for a selection that matched nothing (exit 5) or a refused run (exit 4); an
    internal error (exit 2 or 3) after some records is returned, to end the run with what
    it has; None means go on."""
    if code == 5 and not runs:
        raise UsageError(
            "no tests matched the selection "
            f"(paths {list(spec.paths) or ['.']}, -k {spec.keyword!r}, "
            f"-m {spec.markexpr!r}) "
            f"under {spec.rootdir}"
        )
    if code == 4:
        raise UsageError("pytest refused the run (exit 4):\n  " + "\n  ".join(tail[-15:]))
    if code in (2, 3):
        internal_error = f"pytest ended with an internal error (exit {code}):\n  " + "\n  ".join(
            tail[-15:]
        )
        if not runs:
            raise InfrastructureError(internal_error)
        return internal_error
    return None


def _next_batch(
    spec: RunSpec, undecided: Sequence[TestRecord], repeat: int
) -> tuple[list[str], int]:
    """The tests still undecided and how often to run them next (doubling, capped by what
    the statistics say is still needed)."""
    # a parametrized test is re-selected as a whole: pytest cannot address one parameter
    # set once the repeat parameter is added to it
    selection = list(dict.fromkeys(t.nodeid.split("[", 1)[0] for t in undecided))
    needed = max(t.trials_needed(spec.slo) for t in undecided)
    return selection, max(1, min(needed, repeat * 2, spec.max_batch_repeat))


def run_tests(
    spec: RunSpec,
    records_path: Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> TestPhaseResult:
    """Run the selected tests ``spec.repeat`` times (or until confident) within the budget."""
    _check_target(spec)
    start = time.monotonic()
    deadline = start + spec.budget_s
    records_path.parent.mkdir(parents=True, exist_ok=True)
    records_path.touch()
    batch = 1
    exit_codes: list[int] = []
    budget_exhausted = False
    interrupted = False
    interruption: KeyboardInterrupt | None = None
    internal_error: str | None = None
    last_argv: list[str] = []
    last_tail: list[str] = []

    tail = _RecordsTail(records_path)
    report_progress = _Reporter(tail, on_progress, start)
    selection: list[str] = []
    repeat = spec.repeat
    try:
        while True:
            tail.begin_batch()
            code, killed, last_argv, last_tail = _run_batch(
                spec, records_path, repeat, selection, deadline, report_progress
            )
            if killed:
                budget_exhausted = True
                _record_cut_offs(records_path, tail, "budget")
                break
            assert code is not None
            seal(records_path)  # a worker's crash can end the session, not the controller
            tail.read_new()
            exit_codes.append(code)
            internal_error = _judge_exit(code, spec, tail.runs, last_tail)
            if internal_error is not None:
                break
            if not spec.until_confident:
                break
            undecided = [
                t for t in tail.tally.records() if t.n and t.decision(spec.slo) == "insufficient"
            ]
            if not undecided or time.monotonic() >= deadline:
                budget_exhausted = bool(undecided)
                break
            selection, repeat = _next_batch(spec, undecided, repeat)
            batch += 1
            report_progress.batch = batch
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM as the CLI raises it
        interrupted = True
        interruption = exc
        _record_cut_offs(records_path, tail, "interrupted")

    seal(records_path)
    tail.read_new()
    return TestPhaseResult(
        tests=tuple(tail.tally.records()),
        run_count=tail.runs,
        budget_exhausted=budget_exhausted,
        interrupted=interrupted,
        interruption=interruption,
        pytest_exit_codes=tuple(exit_codes),
        batches=batch,
        seed=spec.seed,
        duration_s=time.monotonic() - start,
        argv=tuple(last_argv),
        output_tail=tuple(last_tail),
        internal_error=internal_error,
        cut_off=tuple(tail.cut_off),
    )
