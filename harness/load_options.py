"""``--locustfile`` and ``--processes N|auto`` of ``load`` and ``gate``: parsed, turned into
the profile's ``load.locustfile`` and ``load.processes``, and checked before anything starts.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from harness.config import ResolvedConfig
    from harness.load.locustfile_check import LocustfileInfo

__all__ = [
    "MAX_PROCESSES",
    "add_distributed_options",
    "add_load_engine_options",
    "auto_processes",
    "check_locustfile_setting",
    "config_overrides",
    "parse_address",
    "parse_processes",
    "resolve_config",
]

MAX_PROCESSES = 64  # LoadSettings.processes' bound


def add_load_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--locustfile",
        metavar="FILE",
        help="your own locustfile: its User classes (HttpUser, FastHttpUser) and its "
        "LoadTestShape run as written, every request recorded per name into the harness's "
        "HdrHistograms and judged by the load gates (sets load.locustfile)",
    )
    parser.add_argument(
        "--processes",
        metavar="N|auto",
        help="Locust processes (a master and N workers when N > 1); auto: one per core "
        "left after the target's (sets load.processes)",
    )


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expect-workers",
        type=int,
        metavar="N",
        help="run a Locust master that waits for N workers started elsewhere with "
        "`reliable-test-runner load-worker --master ADDR:PORT` (sets load.expect_workers)",
    )
    parser.add_argument(
        "--master-bind",
        metavar="ADDR:PORT",
        help="where that master listens (default 127.0.0.1:5557; outside 127.0.0.0/8 only "
        "with --allow-non-loopback; sets load.master_bind)",
    )


def parse_address(text: str, option: str, allow_non_loopback: bool) -> tuple[str, int]:
    """``HOST:PORT`` (a loopback host unless allowed) for ``option``."""
    from harness.netguard import is_loopback_host

    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not sep or not host or not 0 < port < 65536:
        raise UsageError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:5557")
    if not allow_non_loopback and not is_loopback_host(host):
        raise UsageError(
            f"{option} {text!r}: {host} is outside 127.0.0.0/8; pass --allow-non-loopback "
            "to let Locust workers on other machines in"
        )
    return host, port


def auto_processes(cores: int | None = None) -> int:
    """One load process per core left after the target's (the target is on this machine:
    loopback only), at least one."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_PROCESSES, (cores or 1) - 1))


def parse_processes(text: str, users: int | None = None) -> int:
    """``--processes`` as a number of processes; ``users`` (the generated user's, which
    every worker runs an equal share of) must divide evenly among them. ``auto`` takes
    the largest count up to one per core left after the target's that does."""
    if text.strip().lower() == "auto":
        most = auto_processes()
        return next(n for n in range(most, 0, -1) if users is None or users % n == 0)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PROCESSES:
        raise UsageError(
            f"--processes {text!r}: must be an integer from 1 to {MAX_PROCESSES}, or auto "
            f"(one per core left after the target's: {auto_processes()} here)"
        )
    if users is not None and users % value:
        raise UsageError(
            f"--processes {value} with {users} users: every Locust worker runs the same "
            f"number of users, so users must be a multiple of {value} (--users "
            f"{value * max(1, round(users / value))}, or --processes auto)"
        )
    return value


def config_overrides(args: argparse.Namespace) -> list[str]:
    """--locustfile, --expect-workers and --master-bind as ``--set`` items, applied after
    the user's own (CLI wins)."""
    out = []
    if getattr(args, "locustfile", None):
        out.append(f"load.locustfile={json.dumps(args.locustfile)}")
    expect = getattr(args, "expect_workers", None)
    if expect is not None:
        if not 1 <= expect <= MAX_PROCESSES:
            raise UsageError(f"--expect-workers {expect}: must be from 1 to {MAX_PROCESSES}")
        out.append(f"load.expect_workers={expect}")
    if getattr(args, "master_bind", None):
        out.append(f"load.master_bind={json.dumps(args.master_bind)}")
    return out


def resolve_config(args: argparse.Namespace) -> ResolvedConfig:
    """The config of ``load`` or ``gate`` with --locustfile and --processes applied; the
    locustfile imported and checked now (exit 2 before anything starts)."""
    from harness.config import load_config

    overrides = [*args.set, *config_overrides(args)]
    config = load_config(profile=args.profile, config_file=args.config, overrides=overrides)
    if getattr(args, "processes", None):
        processes = parse_processes(args.processes, _generated_users(config, args))
        overrides.append(f"load.processes={processes}")
        config = load_config(profile=args.profile, config_file=args.config, overrides=overrides)
    load = config.profile.load
    if load.expect_workers:
        where = "--master-bind" if getattr(args, "master_bind", None) else "load.master_bind"
        parse_address(load.master_bind, where, bool(getattr(args, "allow_non_loopback", False)))
        users = _generated_users(config, args)
        if users is not None and users % load.expect_workers:
            raise UsageError(
                f"--expect-workers {load.expect_workers} with {users} users: every worker "
                f"runs the same number of users, so users must be a multiple of "
                f"{load.expect_workers}"
            )
    if load.enabled or args.command == "load":
        check_locustfile_setting(config, args)
    return config


def _generated_users(config: ResolvedConfig, args: argparse.Namespace) -> int | None:
    """The users the generated user will run (None for a locustfile: Locust deals them)."""
    load = config.profile.load
    if load.locustfile:
        return None
    if getattr(args, "users", None):
        return int(args.users)
    if load.load_file:
        from harness.load import load_load_spec

        try:
            return load_load_spec(Path(load.load_file), "http://127.0.0.1:1").users
        except (OSError, ValueError):
            return None  # the load file's own check names the problem
    return load.users


def check_locustfile_setting(
    config: ResolvedConfig, args: argparse.Namespace
) -> LocustfileInfo | None:
    """The profile's locustfile, imported and checked now (exit 2 naming the file and the
    error), with what it is combined with checked too; None without one."""
    load = config.profile.load
    if not load.locustfile:
        return None
    where = (
        f"--locustfile {args.locustfile!r}"
        if getattr(args, "locustfile", None)
        else f"load.locustfile from {config.origin('load.locustfile')}"
    )
    if load.load_file:
        raise ConfigError(
            f"{where} and load.load_file {load.load_file!r} from "
            f"{config.origin('load.load_file')}: a load file and a locustfile both say what "
            "to send; keep one"
        )
    if getattr(args, "rate", None):
        raise UsageError(
            f"--rate {args.rate!r} with {where}: a locustfile's users pace themselves with "
            "their wait_time (closed model); drop --rate, or use a load file"
        )
    from harness.load.locustfile_check import check_locustfile

    return check_locustfile(load.locustfile, where)
