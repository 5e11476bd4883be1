"""``reliable-test-runner load-worker --master HOST:PORT``: join a distributed load.

The worker is a Locust WorkerRunner in a child process (Locust never runs in the harness
process: :mod:`harness.load.worker`); the master (``load --expect-workers N``) sends it
everything it needs: the spec, and the locustfile's source when there is one
(:mod:`harness.load.remote`). This command runs in the foreground until the master ends
the run, and exits 0 when the worker sent its report, 1 when it did not (no master in
time, a spec it cannot run, the master gone), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from harness.load_options import parse_address

__all__ = ["add_load_worker_parser", "cmd_load_worker"]


def add_load_worker_parser(sub: Any, command: Any) -> None:
    worker = command(
        sub, "load-worker", "join a distributed load as a Locust worker of its master "
        "(started by `load --expect-workers N --master-bind ADDR:PORT`)",
    )  # fmt: skip
    worker.add_argument(
        "--master", required=True, metavar="HOST:PORT",
        help="the master's address (127.0.0.0/8 unless --allow-non-loopback)",
    )  # fmt: skip
    worker.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow a master, and the target it names, outside 127.0.0.0/8 (off by default)",
    )


def cmd_load_worker(args: argparse.Namespace) -> int:
    from harness.load.driver import REMOTE_MODULE, bootstrap, child_env

    host, port = parse_address(args.master, "--master", args.allow_non_loopback)
    argv = [
        sys.executable, "-c", bootstrap(REMOTE_MODULE), "--role", "worker",
        "--master", f"{host}:{port}",
    ]  # fmt: skip
    if args.allow_non_loopback:
        argv.append("--allow-non-loopback")
    print(f"load-worker: joining the master at {host}:{port}", file=sys.stderr)
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=child_env(None))
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()  # it stops sending; the master goes on with the others
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    print(
        "load-worker: sent its report; the master ended the run"
        if code == 0
        else f"load-worker: ended without sending a report (exit {code})",
        file=sys.stderr,
    )
    return 0 if code == 0 else 1
