"""API fuzzing of the target: schemathesis run against its OpenAPI document, its events
read into one outcome (:mod:`harness.fuzz`).

The run is bounded (``max_examples`` per operation and phase, the process stopped at
``timeout_s``), seeded, sends nothing but to the target (``--origin`` the
target's URL, no redirect followed), and writes its events to
``reports/<run>/fuzz/events.ndjson`` as it goes: a killed run keeps what was fuzzed. The
console shows the cases so far while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness.api_coverage import Operation
from harness.config_sections import FuzzSettings
from harness.errors import ConfigError
from harness.fuzz import FuzzOutcome, read_events
from harness.processes import ManagedProcess
from harness.record import Component
from harness.session import RunContext
from harness.target import Target

__all__ = [
    "SCHEMATHESIS_ENV",
    "check_fuzz_settings",
    "fuzz_off",
    "run_fuzz",
    "schemathesis_command",
]

_SAY_EVERY_S = 15.0
_ENTRY = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"
SCHEMATHESIS_ENV = "MOONBASE_SCHEMATHESIS"


def schemathesis_command() -> list[str] | None:
    """How to run schemathesis: ``$MOONBASE_SCHEMATHESIS``, else the checkout's own
    ``.toolcache/schemathesis`` (``./moonbase setup`` installs it, in a venv of its own),
    else ``schemathesis`` on PATH, else this interpreter when it has it; None: nowhere."""
    import importlib.util
    import shutil

    given = os.environ.get(SCHEMATHESIS_ENV)
    if given:
        return [given]
    tool = (
        Path(__file__).resolve().parents[2] / ".toolcache" / "schemathesis" / "bin" / "schemathesis"
    )
    if tool.is_file():
        return [str(tool)]
    found = shutil.which("schemathesis")
    if found:
        return [found]
    if importlib.util.find_spec("schemathesis") is not None:
        return [sys.executable, "-c", _ENTRY]
    return None


def check_fuzz_settings(settings: FuzzSettings, origin: str) -> None:
    """A named document that is missing or is no OpenAPI document: exit 2 before anything
    starts, naming the file and where it was set."""
    if not settings.enabled:
        return
    if schemathesis_command() is None:
        raise ConfigError(
            "fuzz.enabled: schemathesis is not installed: ./moonbase setup installs it "
            f"(or pip install schemathesis, or set {SCHEMATHESIS_ENV})"
        )
    if settings.openapi_file:
        from harness.phases.api_coverage_phase import load_openapi_file

        load_openapi_file(Path(settings.openapi_file), f"fuzz.openapi_file from {origin}:")
    if settings.config_file:
        import tomllib

        try:
            tomllib.loads(Path(settings.config_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"fuzz.config_file {settings.config_file!r}: not a readable TOML file ({exc}); "
                "schemathesis's own config (schemathesis.toml) is expected"
            ) from None


def _documented(settings: FuzzSettings, target: Target) -> tuple[Operation, ...]:
    """The document's operations, to tell which of them schemathesis never fuzzed."""
    from harness.phases.api_coverage_phase import load_openapi_file, served_operations

    if settings.openapi_file:
        return load_openapi_file(Path(settings.openapi_file), "fuzz.openapi_file")
    try:
        return served_operations(settings.openapi_path, target)[0]
    except ValueError:
        return ()  # schemathesis says why it has no document


def _unfuzzed(outcome: FuzzOutcome, documented: tuple[Operation, ...]) -> FuzzOutcome:
    """``outcome`` with the documented operations it has no case of listed as untested."""
    fuzzed = [name.split(" ", 1) for name in outcome.operations]
    missing = {
        op.name: "never fuzzed"
        for op in documented
        if not any(m == op.method and op.path.endswith(path) for m, path in fuzzed)
    }
    return replace(outcome, untested={**outcome.untested, **missing}) if missing else outcome


def fuzz_off(settings: FuzzSettings, target: Target, explicit: Callable[[str], bool]) -> str:
    """Why the fuzz phase is off: a service the harness did not start, not asked by the user
    to be fuzzed, that serves no OpenAPI document ('' when it runs, or is disabled)."""
    if not settings.enabled or target.managed or settings.openapi_file:
        return ""
    if explicit("fuzz.enabled"):
        return ""
    from harness.phases.api_coverage_phase import served_operations

    try:
        served_operations(settings.openapi_path, target)
    except ValueError as exc:
        return f"a target the harness did not start, with no OpenAPI document: {exc}"
    return ""


def _argv(settings: FuzzSettings, target: Target, events: Path) -> list[str]:
    base = target.url.rstrip("/")
    # schemathesis runs in the run's directory: a relative path is made whole here
    schema = str(Path(settings.openapi_file).resolve()) if settings.openapi_file else ""
    schema = schema or base + settings.openapi_path
    argv = [*(schemathesis_command() or ["schemathesis"])]
    config = settings.config_file or (_reference_config() if target.managed else None)
    argv += ["--config-file", str(Path(config).resolve())] if config else []
    argv += ["run", schema, "--origin", base, "--generation-database", "none"]
    argv += ["--checks", ",".join(settings.checks)]
    if settings.exclude_checks:
        argv += ["--exclude-checks", ",".join(settings.exclude_checks)]
    argv += ["--phases", ",".join(settings.phases), "--max-examples", str(settings.max_examples)]
    if settings.max_time_s is not None:
        argv += ["--max-time", f"{settings.max_time_s:g}"]
    argv += ["--seed", str(settings.seed)]
    argv += ["--workers", "1", "--max-redirects", "0", "--request-timeout", "10"]
    argv += ["--continue-on-failure"]  # every case counted, not the first failure only
    argv += ["--report", "ndjson", "--report-ndjson-path", str(events), "--no-color"]
    headers = dict(settings.headers)
    if target.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {target.token}"
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return argv


def _reference_config() -> str | None:
    """The reference API's schemathesis config (what JSON Schema cannot say of it)."""
    import importlib.util

    spec = importlib.util.find_spec("target_api")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "schemathesis.toml"
    return str(path) if path.is_file() else None


def _cases_so_far(events: Path) -> int:
    if not events.exists():
        return 0
    cases = 0
    with events.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith('{"ScenarioFinished"'):
                try:
                    recorder = json.loads(line)["ScenarioFinished"].get("recorder") or {}
                except ValueError:
                    continue
                cases += len(recorder.get("cases") or {})
    return cases


def run_fuzz(ctx: RunContext, settings: FuzzSettings, target: Target) -> FuzzOutcome:
    """schemathesis against the target as the profile says; the outcome, recorded."""
    out = ctx.state.run_dir / "fuzz"
    out.mkdir(parents=True, exist_ok=True)
    events = out / "events.ndjson"
    source = settings.openapi_file or settings.openapi_path
    spend = f"for {settings.max_time_s:g} s" if settings.max_time_s else "one pass"
    ctx.say(
        f"fuzz: schemathesis on {source}, {settings.max_examples} examples an operation and "
        f"phase, {spend} (stopped at {settings.timeout_s:g} s), seed {settings.seed}"
    )
    # no proxy from the environment between schemathesis (requests) and the target
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = "*"
    argv = _argv(settings, target, events)
    documented = _documented(settings, target)
    process = ManagedProcess(
        "schemathesis", argv, env=env, cwd=out, log_path=out / "schemathesis.log"
    )
    process.start()
    process.drain()
    deadline = time.monotonic() + settings.timeout_s
    said = time.monotonic()
    try:
        while process.proc is not None and process.proc.poll() is None:
            if time.monotonic() > deadline:
                ctx.say(
                    f"fuzz: still running at fuzz.timeout_s = {settings.timeout_s:g} s: stopped"
                )
                break
            try:
                process.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if time.monotonic() - said >= _SAY_EVERY_S:
                    said = time.monotonic()
                    ctx.say(f"fuzz: {_cases_so_far(events)} cases so far")
    finally:
        code = process.stop()
    outcome = _unfuzzed(_read(events, code, process.tail()), documented)
    ctx.state.add_component("fuzz", Component("real", outcome.tool))
    ctx.say(
        f"fuzz: {outcome.cases} cases over {len(outcome.operations)} operations: "
        f"{outcome.server_errors} with server errors, {outcome.violations} off the document"
        + (f"; {len(outcome.untested)} operations not fully tested" if outcome.untested else "")
        + (f" ({outcome.why_none})" if outcome.why_none else "")
    )
    ctx.state.record(fuzz=outcome)
    return outcome


def _read(events: Path, code: int | None, tail: list[str]) -> FuzzOutcome:
    try:
        with events.open(encoding="utf-8", errors="replace") as fh:
            return read_events(fh)
    except (OSError, ValueError):
        last = next((line for line in reversed(tail) if line.strip()), f"exit {code}")
        return FuzzOutcome("schemathesis", None, {}, (), 0, 0, 0, {}, f"schemathesis: {last}")
