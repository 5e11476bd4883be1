"""One harness run: start what is needed, run the phases, always clean up and report.

Data flows one way: config -> phases (tests, load, chaos) -> measurements -> gates ->
report. Whatever happens (a gate fails, a component will not start, Ctrl-C, a crash),
report.json is written with the status that says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ResolvedConfig, TargetSettings
from harness.errors import HarnessError, interruption_cause
from harness.netguard import ensure_loopback_url
from harness.readiness import ReadinessCheck, wait_until_ready
from harness.record import Component, PhaseSpan, RunOutcome, build_report
from harness.report.writers import write_all
from harness.target import ReferenceTarget, Target

__all__ = ["EXIT_CODES", "RunContext", "RunState", "exit_code_for", "open_run"]

EXIT_CODES = {
    "pass": 0,
    "fail": 1,
    "usage": 2,
    "insufficient": 3,
    "infrastructure": 4,
    "interrupted": 130,
}
VERDICT_EXIT = {"pass": 0, "fail": 1, "insufficient": 3, "error": 4}


def exit_code_for(verdict: str) -> int:
    return VERDICT_EXIT[verdict]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(cwd: Path) -> tuple[str | None, bool]:
    """The commit checked out at ``cwd`` and whether the work tree has changes."""
    commit = _git(cwd, "rev-parse", "HEAD") or None
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return commit, bool(status) or status is None


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class RunState:
    """The run's record as far as it got; written after every phase (a checkpoint), so a
    crash leaves what was done in a valid report.json."""

    command: str
    run_id: str
    run_dir: Path
    report_root: Path
    config: ResolvedConfig | None
    outcome: RunOutcome = field(init=False)
    git: tuple[str | None, bool] = field(default_factory=lambda: git_state(Path.cwd()))

    def __post_init__(self) -> None:
        self.outcome = RunOutcome(
            command=self.command,
            run_id=self.run_id,
            started_at=_now(),
            profile=self.config.profile_name if self.config else None,
            profile_description=(self.config.profile.description or None) if self.config else None,
            target_name=(self.config.profile.target.name or None) if self.config else None,
            config_source=self.config.source if self.config else None,
            git_commit=self.git[0],
            git_dirty=self.git[1],
        )

    def record(self, **changes: Any) -> None:
        """Replace parts of the record (a phase's outcome, say) and checkpoint."""
        self.outcome = dataclasses.replace(self.outcome, **changes)
        self.checkpoint()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name`` on the run's timeline, also when it fails."""
        span = PhaseSpan(name, time.time())
        self.record(spans=(*self.outcome.spans, span))
        try:
            yield
        finally:
            ended = dataclasses.replace(span, end=time.time())
            self.outcome = dataclasses.replace(
                self.outcome,
                spans=tuple(ended if s is span else s for s in self.outcome.spans),
            )

    def add_component(self, name: str, component: Component) -> None:
        self.outcome = self.outcome.with_component(name, component)

    def checkpoint(self) -> None:
        write_all(build_report(self.outcome), self.run_dir, self.report_root, final=False)

    def finish(
        self, status: str, verdict: str, exit_code: int, error: str | None
    ) -> dict[str, Any]:
        self.outcome = dataclasses.replace(
            self.outcome,
            status=status,
            verdict=verdict,
            exit_code=exit_code,
            finished_at=_now(),
            error=error,
            final=True,
        )
        report = build_report(self.outcome)
        write_all(report, self.run_dir, self.report_root, final=True)
        return report


@dataclass(slots=True)
class RunContext:
    state: RunState
    say: Callable[[str], None]
    target: Target | None = None


@contextlib.contextmanager
def open_run(
    command: str,
    config: ResolvedConfig | None,
    report_root: Path,
    say: Callable[[str], None],
) -> Iterator[RunContext]:
    """A run directory whose report.json always ends up written, whatever happens inside."""
    run_id = new_run_id()
    run_dir = report_root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(command, run_id, run_dir, report_root, config)
    state.checkpoint()
    ctx = RunContext(state, say)
    try:
        yield ctx
    except KeyboardInterrupt as exc:
        why = interruption_cause(exc)
        state.finish("interrupted", "error", 130, why)
        print(f"verdict: error ({why}, exit 130); report so far: {run_dir / 'index.html'}")
        raise
    except HarnessError as exc:
        if exc.exit_code == 2:
            # A usage or config error, found before anything was measured (a selection
            # that matches nothing, say): not a run, so no report, no `latest`, no line
            # in the history.
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        state.finish("crashed", "error", exc.exit_code, str(exc))
        raise
    except BaseException as exc:
        state.finish("crashed", "error", 4, f"{type(exc).__name__}: {exc}")
        raise


@contextlib.contextmanager
def target_for(
    ctx: RunContext,
    target_url: str | None,
    allow_non_loopback: bool,
    token: str | None = None,
    readiness: TargetSettings | None = None,
    target_pid: int | None = None,
) -> Iterator[Target]:
    """The service under test: the one at --target-url, or a reference API we start and stop.

    ``readiness`` (the profile's ``[target]`` table) says when the one at --target-url is
    ready (:mod:`harness.readiness`)."""
    if target_url:
        url = ensure_loopback_url(
            target_url, where="--target-url", allow_non_loopback=allow_non_loopback
        )
        ready = readiness or TargetSettings()
        check = ReadinessCheck(ready.ready_path, tuple(ready.ready_status), ready.ready_timeout_s)
        wait_until_ready(url, check, on_progress=ctx.say)
        ctx.state.add_component("target", Component("external", url))
        ctx.state.record(target_url=url)
        yield Target(
            url,
            token or os.environ.get("MOONBASE_API_TOKEN", ""),
            managed=False,
            pid_of=None if target_pid is None else (lambda: target_pid),
        )
        return
    # the reference API's scratch state (database, jobs) for this run only: removed after it
    # stopped; its log stays in the run directory
    data_dir = Path(tempfile.mkdtemp(prefix="moonbase-target-"))
    try:
        reference = ReferenceTarget(data_dir, log_path=ctx.state.run_dir / "target-api.log")
        ctx.say("starting the reference Moonbase API")
        t0 = time.monotonic()
        target = reference.start()
        try:
            detail = (
                f"reference Moonbase API at {target.url} (pid {reference.pid}, "
                f"started in {time.monotonic() - t0:.2f} s)"
            )
            ctx.state.add_component("target", Component("embedded", detail))
            ctx.state.record(target_url=target.url)
            ctx.say(f"reference API up at {target.url}")
            yield target
        finally:
            reference.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
