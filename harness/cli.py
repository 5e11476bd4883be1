"""``reliable-test-runner``: commands and options only; the work happens in the phases."""

from __future__ import annotations

import argparse
import difflib
import faulthandler
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from harness import __version__
from harness.config import ResolvedConfig, load_config
from harness.errors import HarnessError, Terminated, UsageError, interruption_cause
from harness.load_options import add_distributed_options, add_load_engine_options, resolve_config
from harness.load_worker_command import add_load_worker_parser

__all__ = ["main"]

COMMANDS = (
    "run", "gate", "load", "chaos", "fuzz", "report", "target", "doctor", "slo", "soak", "init",
    "load-worker",
)  # fmt: skip

EPILOG = """\
exit codes:
  0    every gate holds
  1    a gate failed
  2    usage or configuration error
  3    not enough evidence to decide (more trials needed)
  4    infrastructure failed (a component did not start)
  130  interrupted (SIGINT or SIGTERM); the report so far is kept

`reliable-test-runner SELECTOR...` is short for `reliable-test-runner run SELECTOR...`;
a selector is a path, a marker (e.g. JobDirector -> -m jobdirector) or a -k keyword.
"""


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="config profile: smoke, ci, release, or one of yours")
    parser.add_argument(
        "--config",
        help="config file (default: reliability.toml, else "
        "[tool.reliability] in pyproject.toml, else embedded defaults)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value of the active profile, e.g. gates.load_p95_ms=5 (repeatable)",
    )
    parser.add_argument(
        "--report-dir", default="reports", help="where runs are written (default: reports/)"
    )


def _allow_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help=f"allow {what} outside 127.0.0.0/8 (off by default)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    _config_options(parser)
    parser.add_argument(
        "--target-url", help="test this running service instead of starting the reference API"
    )
    _allow_flag(parser, "targets")


def _verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="the console lists every test (default: only those that failed, were flaky or "
        "timed out, and a count of the rest; every report lists them all)",
    )  # fmt: skip


def _target_pid_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target-pid",
        type=int,
        default=None,
        metavar="PID",
        help="with --target-url: the service's main PID; its memory and CPU (and its "
        "children's) are sampled with psutil. Without a PID, the service's Prometheus "
        "process metrics on resources.metrics_path (/metrics) are read, when it serves them",
    )


def _baseline_option(parser: argparse.ArgumentParser) -> None:
    _target_pid_option(parser)
    parser.add_argument(
        "--baseline",
        default="auto",
        metavar="RUN|auto|none",
        help="the run the regression gate compares this one with: a run id under "
        "--report-dir or a run directory; auto (default): the newest passing run in "
        "history.jsonl of the same command, profile, target and test selection; none: no "
        "comparison. With no baseline the regression gate is off",
    )


def _command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "selectors", nargs="*", metavar="SELECTOR", help="path, marker or keyword (OR-ed by kind)"
    )
    run.add_argument("--repeat", type=int, help="run every selected test N times")
    run.add_argument("--workers", help="xdist workers: N or auto")
    run.add_argument("--timeout", type=float, help="per-test timeout in seconds")
    run.add_argument("--budget", type=float, help="whole-run budget in seconds")
    run.add_argument(
        "--until-confident",
        action="store_true",
        help="repeat until every test's interval decides against --slo",
    )
    run.add_argument("--slo", type=float, help="pass-rate objective, e.g. 0.999")
    run.add_argument("--rootdir", help="run any pytest project (default: current directory)")
    run.add_argument("--seed", type=int, help="test order seed (recorded; replay with it)")
    run.add_argument("-k", dest="keyword", help="pytest -k expression")
    run.add_argument("-m", dest="markexpr", help="pytest -m marker expression")
    _common(run)
    _verbose_option(run)


def _fuzz_options(fuzz: argparse.ArgumentParser) -> None:
    fuzz.add_argument("--max-examples", type=int, help="cases per operation and phase")
    fuzz.add_argument(
        "--max-time", type=float, dest="max_time_s", help="fuzz until this many seconds are spent"
    )
    fuzz.add_argument("--seed", type=int, help="the seed: the same seed replays the same cases")
    fuzz.add_argument("--openapi-file", help="the document, instead of the one the target serves")
    _common(fuzz)


_CALIBRATE_HELP = (
    "measure the generator's noise floor alone (the same client, users and rate against a "
    "null server; --duration sets its length); no target, no gates: exit 3"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reliable-test-runner",
        description="Is this service reliable enough to ship, and how sure are we?",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _run_options(_command(sub, "run", "run scenario tests: isolated, parallel, repeated"))

    gate = _command(sub, "gate", "tests, fuzz, coverage, security, load, chaos; then the gates")
    _common(gate)
    _baseline_option(gate)
    _verbose_option(gate)
    add_load_engine_options(gate)
    _load_parser(sub)

    chaos = _command(sub, "chaos", "run chaos experiments (all of the profile's by default)")
    chaos.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="an experiment in chaos.directory (default scenarios/chaos) by its file's stem, "
        "or the path of a TOML file",
    )
    chaos.add_argument("--injections", type=int, help="inject each fault N times")
    _common(chaos)

    _fuzz_options(_command(sub, "fuzz", "schemathesis against the OpenAPI document, gated"))

    report = _command(sub, "report", "re-render a run's reports from its report.json")
    report.add_argument("run", nargs="?", default="latest", help="run id or directory")
    report.add_argument("--compare", metavar="BASELINE", help="run id or directory to compare")
    report.add_argument(
        "--min-effect-ms",
        type=float,
        default=0.5,
        help="smallest latency regression worth flagging (default 0.5 ms)",
    )
    _config_options(report)

    target = _command(sub, "target", "serve the reference API in the foreground")
    target.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    target.add_argument(
        "--port", type=int, default=8000, help="port to bind (default 8000; 0 picks a free one)"
    )
    target.add_argument(
        "--data-dir", default=".moonbase", help="SQLite file, logs, token (default .moonbase)"
    )
    _allow_flag(target, "binding")

    doctor = _command(sub, "doctor", "which real components are present, which defaults serve")
    _config_options(doctor)

    _soak_parser(sub)
    _init_parser(sub)
    add_load_worker_parser(sub, _command)

    slo = _command(sub, "slo", "the profile's SLOs for production: OpenSLO and Prometheus rules")
    slo.add_argument("action", choices=["export"], help="export: write the files")
    slo.add_argument("--out", default="slo", help="directory to write them to (default slo/)")
    slo.add_argument("--service", default=None, help="the service name (default target.name)")
    _config_options(slo)
    return parser


def _load_parser(sub: Any) -> None:
    load = _command(sub, "load", "the load phase alone, with its gates")
    _baseline_option(load)
    load.add_argument("--duration", type=float, help="seconds of load")
    load.add_argument("--rate", type=float, help="intended req/s (0 = closed model)")
    load.add_argument("--users", type=int, help="concurrent simulated users")
    load.add_argument(
        "--load-file",
        "--profile-file",  # its former name, still accepted
        dest="load_file",
        help="a load file, TOML (e.g. scenarios/load/ping.toml); --duration, --rate and "
        "--users still override it",
    )
    load.add_argument("--calibrate", action="store_true", help=_CALIBRATE_HELP)
    add_load_engine_options(load)
    add_distributed_options(load)
    _common(load)


def _init_parser(sub: Any) -> None:
    init = _command(
        sub, "init", "a start for your service: a reliability.toml with three profiles, a "
        "scenario, a load file and a chaos experiment aimed at it (never overwrites)",
    )  # fmt: skip
    init.add_argument(
        "--target-url", default="http://127.0.0.1:8000",
        help="your running service (loopback; default http://127.0.0.1:8000): asked for its "
        "ready path and OpenAPI document when it answers",
    )  # fmt: skip
    init.add_argument("--dir", default=".", help="where to write (default: here)")
    init.add_argument("--name", default=None, help="what the reports call the service")
    init.add_argument(
        "--ready-path", default=None,
        help="GET this to know it is ready (default: the first of /healthz, /health, /ready, / "
        "that answers 200)",
    )  # fmt: skip


def _soak_parser(sub: Any) -> None:
    soak = _command(sub, "soak", "a long, bounded run: low-rate load, the prober, faults")
    soak.add_argument("--duration", required=True, help="how long: 90s, 30m, 2h (10 s to 24 h)")
    soak.add_argument(
        "--rate",
        type=float,
        default=None,
        help="intended req/s (default 20; not with a locustfile, whose users pace themselves)",
    )
    soak.add_argument(
        "--fault-every",
        default=None,
        help="a round of the profile's chaos experiments this often (e.g. 10m; 10 s to 24 h); "
        "default none",
    )
    soak.add_argument(
        "--checkpoint-every",
        default="1m",
        help="write what was measured so far into report.json this often (e.g. 90s, 5m; 5 s "
        "to 1 h; default 1m)",
    )
    _common(soak)
    _target_pid_option(soak)


def _normalise(argv: list[str]) -> list[str]:
    if not argv:
        return ["--help"]
    first = argv[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return argv
    # `reliable-test-runner chaoss x` is a mistyped command, not a run selecting `chaoss`
    # and `x` (which would run whatever tests `x` matches, with no word about the typo)
    close = difflib.get_close_matches(first, COMMANDS, n=1, cutoff=0.75)
    if close and not first.startswith("-") and not Path(first).exists():
        raise UsageError(
            f"{first!r} is not a command: did you mean the command "
            f"`reliable-test-runner {close[0]}`? (to select tests by {first!r}, write "
            f"`reliable-test-runner run {first}`)"
        )
    return ["run", *argv]


def _config(args: argparse.Namespace) -> ResolvedConfig:
    return load_config(profile=args.profile, config_file=args.config, overrides=args.set)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args_list = _normalise(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"reliable-test-runner: error: {exc}", file=sys.stderr)
        return exc.exit_code
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    stacks = _stacks_on_sigusr1()
    try:
        return _dispatch(args)
    except KeyboardInterrupt as exc:
        print(f"reliable-test-runner: {interruption_cause(exc)} (exit 130)", file=sys.stderr)
        return 130
    except HarnessError as exc:
        print(f"reliable-test-runner: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:  # a bug: the run's report.json already says "crashed"
        traceback.print_exc()
        print("reliable-test-runner: crashed (exit 4); this is a bug", file=sys.stderr)
        return 4
    finally:
        if stacks:
            faulthandler.unregister(signal.SIGUSR1)
        signal.signal(signal.SIGTERM, previous)


def _stacks_on_sigusr1() -> bool:
    """`kill -USR1 PID` prints every thread's stack to stderr and the run goes on: what a
    stuck harness was doing, for its bug report (a test that times out asks for it too).
    Only where SIGUSR1 is free (a caller's own handler stays) and stderr is a real file
    (faulthandler writes to its descriptor, which a captured stderr has not); True when set."""
    if signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL:
        return False
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (OSError, ValueError, RuntimeError):  # io.UnsupportedOperation: no fileno()
        return False
    return True


def _dispatch(args: argparse.Namespace) -> int:
    return HANDLERS[args.command](args)


# The commands module (rich, the config, the session) is imported only once a command
# that needs it runs: `--help`, `target` and `doctor` stay quick.
def _run(args: argparse.Namespace) -> int:
    from harness.commands import cmd_run

    return _with_hint(args, cmd_run)


def _gate(args: argparse.Namespace) -> int:
    from harness.commands import cmd_gate

    return cmd_gate(args, resolve_config(args))


def _load(args: argparse.Namespace) -> int:
    if args.calibrate:
        from harness.floor_command import cmd_calibrate

        return cmd_calibrate(args, _config(args))
    from harness.commands import cmd_load

    return cmd_load(args, resolve_config(args))


def _chaos(args: argparse.Namespace) -> int:
    from harness.commands import cmd_chaos

    return cmd_chaos(args, _config(args))


def _fuzz(args: argparse.Namespace) -> int:
    from harness.fuzz_command import cmd_fuzz

    return cmd_fuzz(args, _config(args))


def _report(args: argparse.Namespace) -> int:
    from harness.report_command import cmd_report

    return cmd_report(args, _config(args))


def _with_hint(
    args: argparse.Namespace, run: Callable[[argparse.Namespace, ResolvedConfig], int]
) -> int:
    """``run``, adding 'did you mean' when a selector that matched nothing looks like a
    command (`reliable-test-runner gaet`)."""
    try:
        return run(args, _config(args))
    except UsageError as exc:
        hint = _command_hint(args.selectors)
        if hint and "no tests matched" in str(exc):
            raise UsageError(f"{exc}\n  {hint}") from None
        raise


def _command_hint(selectors: list[str]) -> str | None:
    for selector in selectors:
        close = difflib.get_close_matches(selector, COMMANDS, n=1, cutoff=0.75)
        if close:
            return f"did you mean the command `reliable-test-runner {close[0]}`?"
    return None


def _soak(args: argparse.Namespace) -> int:
    from harness.soak_command import cmd_soak

    return cmd_soak(args, _config(args))


def _slo(args: argparse.Namespace) -> int:
    from harness.slo_command import cmd_slo_export

    return cmd_slo_export(args, _config(args))


def _load_worker(args: argparse.Namespace) -> int:
    from harness.load_worker_command import cmd_load_worker

    return cmd_load_worker(args)


def _init(args: argparse.Namespace) -> int:
    from harness.init_command import plan_init, write_init

    directory = Path(args.dir).resolve()
    if not directory.is_dir():
        raise UsageError(f"--dir {args.dir!r}: not a directory")
    plan = plan_init(directory, args.target_url, name=args.name, ready_path=args.ready_path)
    for line in plan.findings:
        print(f"· {line}")
    for path in write_init(plan):
        print(f"wrote {path.relative_to(directory)}")
    where = "" if directory == Path.cwd().resolve() else f"cd {directory} && "
    print(f"next: {where}reliable-test-runner gate --target-url {plan.url}")
    print('      (--profile ci or release for more evidence; the README\'s "Your own service")')
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from harness.doctor import doctor

    config = _config(args)  # a config error is reported here too (exit 2)
    print(f"config: profile {config.profile_name} from {config.source}")
    return doctor()


def _target(args: argparse.Namespace) -> int:
    from harness.netguard import is_loopback_host
    from target_api.launch import api_argv

    if not args.allow_non_loopback and not is_loopback_host(args.host):
        raise UsageError(
            f"--host {args.host!r} is outside 127.0.0.0/8: the API runs any command a client"
            " submits; pass --allow-non-loopback to serve beyond this machine"
        )
    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise UsageError(f"--data-dir {args.data_dir!r} exists and is not a directory")
    child = subprocess.Popen(api_argv(args.data_dir, host=args.host, port=args.port))
    try:
        return child.wait()
    except KeyboardInterrupt:
        # SIGINT from a terminal reached the child too; SIGTERM to us alone did not.
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _run,
    "gate": _gate,
    "load": _load,
    "chaos": _chaos,
    "fuzz": _fuzz,
    "report": _report,
    "target": _target,
    "doctor": _doctor,
    "slo": _slo,
    "soak": _soak,
    "init": _init,
    "load-worker": _load_worker,
}
