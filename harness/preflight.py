"""What the commands check before anything starts: every problem the user can fix is found
here, named as the user wrote it (the option, or the field and where it was set), and is a
usage or configuration error (exit 2) that leaves no run behind."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from harness.config import LoadSettings, ResolvedConfig
from harness.errors import ConfigError, UsageError
from harness.netguard import ensure_loopback_url

__all__ = [
    "check_gate_inputs",
    "parse_duration",
    "check_expression",
    "check_load_file",
    "check_load_inputs",
    "check_load_settings",
    "check_own_service",
    "check_request_gate_names",
    "check_soak_inputs",
    "check_target",
    "load_file_source",
    "test_paths",
]


def check_expression(option: str, expression: str | None) -> None:
    """Refuse a -k/-m expression pytest cannot parse, before any worker starts."""
    if not expression:
        return
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # pytest moved it: pytest itself will complain, later
        return
    try:
        Expression.compile(expression)
    except Exception as exc:  # SyntaxError in recent pytest, its own ParseError before
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise UsageError(f"invalid {option} expression {expression!r}: {message}") from None


def check_target(args: argparse.Namespace) -> None:
    """Refuse a non-loopback --target-url, and a --target-pid that is not a running process
    (or is given without --target-url), before anything starts."""
    if getattr(args, "target_url", None):
        ensure_loopback_url(
            args.target_url, where="--target-url", allow_non_loopback=args.allow_non_loopback
        )
    pid = getattr(args, "target_pid", None)
    if pid is None:
        return
    if not getattr(args, "target_url", None):
        raise UsageError(
            f"--target-pid {pid}: only with --target-url (the harness samples the reference "
            "API it starts by itself)"
        )
    import psutil

    try:
        running = pid > 0 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        running = False
    if not running:
        raise UsageError(
            f"--target-pid {pid}: no such process is running; give the PID of the service's "
            "main process (e.g. from `pgrep -o NAME` or `systemctl show -p MainPID UNIT`)"
        )


def test_paths(config: ResolvedConfig, rootdir: Path, *, given_rootdir: bool) -> tuple[str, ...]:
    """The test paths to hand pytest, checked before anything starts.

    Paths the user set (a file, --set, the environment) must exist: a missing one is a
    ConfigError naming it and where it was set, never replaced. The embedded default
    (``scenarios``) gives way, with ``--rootdir`` or where it does not exist, to the
    project's own pytest configuration (no paths: pytest's testpaths or the directory).
    """
    paths = tuple(config.profile.tests.paths)
    if not config.explicit("tests.paths"):
        if given_rootdir or not any((rootdir / p).exists() for p in paths):
            return ()
        return paths
    missing = [p for p in paths if not (rootdir / p).exists()]
    if missing:
        raise ConfigError(
            f"tests.paths {', '.join(map(repr, missing))} from {config.origin('tests.paths')}: "
            f"no such file or directory (relative paths are read from {rootdir})"
        )
    return paths


def check_load_file(value: str | None, where: str) -> None:
    """A load file, readable and valid now, before any phase; ``where`` names it as the
    user wrote it (``--load-file X``, or the field and where it was set)."""
    if not value:
        return
    from harness.load import load_load_spec

    try:
        load_load_spec(Path(value), "http://127.0.0.1:1")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_own_service(
    config: ResolvedConfig,
    target_url: str | None,
    command: Literal["gate", "load", "soak"],
    *,
    fault_every: bool = False,
    settings: LoadSettings | None = None,
) -> None:
    """With --target-url, no phase may fall back to the reference API's own routes: a value
    left at its embedded default that names one is refused, saying what to set. A ``gate``
    sends the load and injects the faults its profile enables; ``load`` sends ``settings``
    (the profile's [load] with its options) and injects none; ``soak`` sends the profile's
    load and injects faults with ``fault_every``."""
    if not target_url:
        return
    profile, problems = config.profile, []
    settings = settings or profile.load
    send_load = profile.load.enabled if command == "gate" else True
    inject = {"gate": profile.chaos.enabled, "load": False, "soak": fault_every}[command]
    own = {
        "gate": "load.load_file or load.locustfile, or load.enabled = false",
        "load": "--load-file or --locustfile",
        "soak": "load.load_file or load.locustfile",
    }[command]
    chaos_off = "or drop --fault-every" if command == "soak" else "or chaos.enabled = false"
    own_load = settings.load_file or settings.locustfile
    if send_load and not own_load and not config.explicit("load.path"):
        problems.append(
            f"load.path is {settings.path!r}, the reference API's (embedded default), and "
            f"--target-url names another service: set load.path to one of its paths (e.g. "
            f"--set load.path=/healthz), {own}"
        )
    if inject and not config.explicit("chaos.experiments"):
        problems.append(
            f"chaos.experiments is {profile.chaos.experiments}, the reference API's (embedded "
            "default), and --target-url names another service: set chaos.experiments (and "
            f"chaos.directory) to experiments of your own, {chaos_off}"
        )
    if problems:
        raise ConfigError("\n".join(problems))


def check_load_settings(config: ResolvedConfig, settings: LoadSettings | None = None) -> None:
    """The load ``settings`` describe (default: the profile's [load]; without a load file,
    whose own check names its fields), valid now."""
    settings = settings or config.profile.load
    if settings.load_file:
        return
    from harness.phases.load_phase import load_spec

    spec = load_spec(settings, "http://127.0.0.1:1")
    problems = [
        p.replace("requests[0].path", "load.path").replace("requests[0]", "load.path")
        for p in spec.problems()
    ]
    if problems:
        raise ConfigError(f"[load] from {config.origin('load.path')}: " + "; ".join(problems))


def check_request_gate_names(config: ResolvedConfig, settings: LoadSettings | None = None) -> None:
    """Every ``[[gates.requests]]`` entry names a request of the load ``settings`` describes
    (default: the profile's ``[load]``): with its requests written in the config or a load
    file, the names are known now, and a name that is none of them is refused before any
    traffic, with the names that are. A locustfile's names are known only once it runs (a
    gate whose name it never sent reads "not measured" then)."""
    rules = config.profile.gates.requests
    settings = settings or config.profile.load
    if not rules or settings.locustfile:
        return
    from harness.phases.load_phase import load_spec

    try:
        spec = load_spec(settings, "http://127.0.0.1:1")
    except (OSError, ValueError):
        return  # the load file's own check names the problem
    names = list(dict.fromkeys(r.name for r in spec.requests))
    if settings.load_file:
        sent_by = f"the requests of the load file {settings.load_file}"
    else:
        sent_by = f"load.path {settings.path!r} from {config.origin('load.path')}"
    origin = config.origin("gates.requests")
    problems = [
        f"invalid request name {rule.name!r} from {_name_field(origin, i, len(rules))}: must "
        f"be one of {', '.join(map(repr, names))} ({sent_by})"
        for i, rule in enumerate(rules, 1)
        if rule.name not in names
    ]
    if problems:
        raise ConfigError("\n".join(problems))


def _name_field(origin: str, entry: int, entries: int) -> str:
    """The ``name`` of the ``entry``-th request gate as the user wrote it: for ``origin``
    ``reliability.toml [profiles.ci.gates] requests``, ``reliability.toml
    [[profiles.ci.gates.requests]] name (entry 2 of 3)``."""
    which = f"entry {entry} of {entries}"
    file, sep, table = origin.removesuffix("] requests").rpartition(" [")
    if sep and origin.endswith("] requests"):
        return f"{file} [[{table}.requests]] name ({which})"
    return f"{origin} ([[gates.requests]] name, {which})"


def load_file_source(config: ResolvedConfig) -> str:
    value = config.profile.load.load_file
    return f"load.load_file {value!r} from {config.origin('load.load_file')}"


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None, option: str, *, low_s: float, high_s: float) -> float:
    """``90s``, ``30m``, ``2h`` or plain seconds; a UsageError naming ``option`` otherwise."""
    raw = (text or "").strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "s"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected a duration such as 90s, 30m or 2h") from None
    if not low_s <= seconds <= high_s:
        raise UsageError(f"{option} {text!r}: must be from {low_s:g} s to {high_s / 3600:g} h")
    return seconds


def report_root(args: argparse.Namespace) -> Path:
    """--report-dir as an absolute path (pytest runs elsewhere with --rootdir), created."""
    root = Path(args.report_dir).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report-dir {args.report_dir!r}: {exc.strerror or exc}") from None
    if not root.is_dir():
        raise UsageError(f"--report-dir {args.report_dir!r} is not a directory")
    return root


def check_coverage_reports(config: ResolvedConfig, cwd: Path) -> None:
    """Read every coverage report the profile names now: a missing or malformed one is a
    ConfigError (exit 2) naming the file, before anything starts."""
    from harness.code_coverage import read_coverage_report

    coverage = config.profile.coverage
    if not coverage.enabled:
        return
    named = [("coverage.report_file", coverage.report_file)] if coverage.report_file else []
    named += [(f"coverage.report_files.{k}", v) for k, v in coverage.report_files.items()]
    unknown = sorted(set(coverage.report_files) - set(coverage.categories))
    if unknown:
        raise ConfigError(
            f"coverage.report_files {', '.join(map(repr, unknown))} from "
            f"{config.origin('coverage.report_files')}: not a category; categories: "
            f"{', '.join(coverage.categories) or 'none'}"
        )
    for field, path in named:
        origin = config.origin(field)
        try:
            read_coverage_report(cwd / path)
        except ConfigError as exc:
            raise ConfigError(f"{field} from {origin}: {exc}") from None


def check_load_inputs(
    args: argparse.Namespace, config: ResolvedConfig, settings: LoadSettings
) -> None:
    """What ``load`` reads, checked before anything starts: the target, the load file
    (``settings``: the profile's [load] with the command's options), the load it describes
    and the names the request gates give."""
    where = f"--load-file {args.load_file!r}" if args.load_file else load_file_source(config)
    check_load_file(settings.load_file, where)
    check_target(args)
    check_own_service(config, args.target_url, "load", settings=settings)
    check_load_settings(config, settings)
    check_request_gate_names(config, settings)


def check_soak_inputs(args: argparse.Namespace, config: ResolvedConfig) -> None:
    """What ``soak`` reads, checked before anything starts: the target, the load it sends
    (the profile's [load], as ``gate`` checks it: its locustfile imported, its load file
    read, its settings and the names the request gates give) and, with ``--fault-every``,
    every chaos experiment."""
    from harness.load_options import check_locustfile_setting
    from harness.phases import check_chaos_experiments

    check_target(args)
    check_own_service(config, args.target_url, "soak", fault_every=bool(args.fault_every))
    check_locustfile_setting(config, args)
    check_load_file(config.profile.load.load_file, load_file_source(config))
    check_load_settings(config)
    check_request_gate_names(config)
    if args.fault_every:  # every experiment valid (and allowed) before any traffic
        check_chaos_experiments(
            config.profile.chaos, base_dir=Path.cwd(), external_target=bool(args.target_url)
        )


def check_gate_inputs(
    args: argparse.Namespace, config: ResolvedConfig, cwd: Path
) -> tuple[str, ...]:
    """Every file and path a gate's profile names, checked before any phase; returns the
    test paths."""
    from harness.phases import (
        check_chaos_experiments,
        check_fuzz_settings,
        check_openapi_file,
        check_security_reports,
    )

    profile = config.profile
    check_target(args)
    paths = test_paths(config, cwd, given_rootdir=False)
    check_own_service(config, args.target_url, "gate")
    if profile.load.enabled:
        check_load_file(profile.load.load_file, load_file_source(config))
        check_load_settings(config)
        check_request_gate_names(config)
    if profile.chaos.enabled:  # every experiment valid (and allowed) before any traffic
        check_chaos_experiments(profile.chaos, base_dir=cwd, external_target=bool(args.target_url))
    check_coverage_reports(config, cwd)
    check_openapi_file(profile.api_coverage, config.origin("api_coverage.openapi_file"))
    check_security_reports(profile.security, config.origin)
    check_fuzz_settings(profile.fuzz, config.origin("fuzz.openapi_file"))
    return paths
