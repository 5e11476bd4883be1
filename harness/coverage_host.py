"""Runs a Python service under coverage.py with a context per test:
``python -m harness.coverage_host --data-file F --source PKG --context CAT --port-file P -- -m
MODULE ARGS...``.

What ``coverage run --branch --parallel-mode --context CAT`` does, plus a loopback socket on
which the harness's pytest plugin names the test about to run (one line, the test's id; an
empty line: between tests). Each name switches coverage.py's dynamic context to
``CAT|<test id>`` (:meth:`coverage.Coverage.switch_context`) and is answered ``ok`` once
switched, so every line the service runs from a test's setup to its teardown is recorded
under that test. The tests must run one at a time for that to hold (the coverage phase runs
them so); what the service does between tests stays under ``CAT`` alone. The port is written
to ``--port-file`` before the service starts; each name switched to is appended to
``--names-file`` (so a test that could not name itself is known). coverage.py's context is
one per process: what the service's other threads run while a test runs is recorded under
that test too. The data are saved when the service exits (its SIGTERM handler returns from
its main).
"""

from __future__ import annotations

import argparse
import os
import runpy
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CONTEXTS_ENV", "main"]

# where the plugin finds the host: 127.0.0.1:PORT
CONTEXTS_ENV = "MOONBASE_COVERAGE_CONTEXTS"


def _serve(listener: socket.socket, cov: Any, names: Path | None) -> None:
    lock = threading.Lock()

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for raw in stream:
                name = raw.decode("utf-8", "replace").strip()
                with lock:
                    cov.switch_context(name or None)
                    if name and names is not None:  # which tests named themselves
                        with names.open("a", encoding="utf-8") as fh:
                            fh.write(name + "\n")
                stream.write(b"ok\n")
                stream.flush()

    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("coverage_host: '-- -m MODULE ARGS...' is missing", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m harness.coverage_host")
    parser.add_argument("--data-file", required=True)
    parser.add_argument("--source", required=True, help="packages to measure, comma-separated")
    parser.add_argument("--context", required=True, help="the static context: the category")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--names-file", help="append each test's name to it once switched")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if len(command) < 2 or command[0] != "-m":
        print("coverage_host: the command must be '-m MODULE ARGS...'", file=sys.stderr)
        return 2
    import coverage

    cov = coverage.Coverage(
        data_file=args.data_file, data_suffix=True, branch=True,
        source=args.source.split(","), context=args.context,
    )  # fmt: skip
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port_file = Path(args.port_file)
    port_file.with_suffix(".tmp").write_text(str(listener.getsockname()[1]), encoding="utf-8")
    os.replace(port_file.with_suffix(".tmp"), port_file)
    threading.Thread(
        target=_serve,
        args=(listener, cov, Path(args.names_file) if args.names_file else None),
        daemon=True,
    ).start()
    sys.argv = [command[1], *command[2:]]
    code: Any = 0
    cov.start()
    try:
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    finally:
        cov.stop()
        cov.save()
        listener.close()
    return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
