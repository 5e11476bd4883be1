"""How the reference API is started as a process of its own: one command line, one
environment, one line to wait for.

Every launcher of ``python -m target_api`` builds it here: the harness's
``ReferenceTarget`` (harness/target.py) and ``reliable-test-runner target``
(harness/cli.py), and the tests' and benchmarks' ``ApiProcess``
(target_api/testing.py). Once its socket is bound, the API prints :data:`LISTENING`
followed by its URL on stdout, in one flush (server.py); a launcher waits for that line
and reads the URL from it with :func:`listening_url` or :data:`LISTENING_PATTERN`.

Only the standard library is imported, so a launcher gets the command without loading
the API's web stack.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["LISTENING", "LISTENING_PATTERN", "api_argv", "api_env", "listening_url"]

LISTENING = "moonbase-api listening on "
# group 1 is the URL: http://127.0.0.1:PORT, or http://[::1]:PORT for an IPv6 host
LISTENING_PATTERN = re.escape(LISTENING) + r"(http://\S+)"


def api_argv(
    data_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, exit_with_parent: bool = True
) -> list[str]:
    """``python -m target_api`` with this interpreter, serving on ``host:port`` (0 picks
    a free port) and keeping its database, logs and token in ``data_dir``; by default it
    stops once its launcher has gone (a launcher killed by SIGKILL leaves no server)."""
    return [
        sys.executable,
        "-m",
        "target_api",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(["--exit-with-parent"] if exit_with_parent else []),
    ]


def api_env(token: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with the bearer token the API demands and unbuffered
    output (its stderr reaches a log as it is written); ``extra`` wins over both."""
    return {
        **os.environ,
        "MOONBASE_API_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def listening_url(line: str) -> str | None:
    """The URL in the API's listening line, or None when ``line`` is not that line."""
    match = re.search(LISTENING_PATTERN, line)
    return match.group(1) if match else None
