"""Is a locustfile usable? Asked before anything starts, in a child process.

Importing a locustfile imports Locust, which monkey-patches the standard library with
gevent; the harness process never does that (see :mod:`harness.load.worker`), so a child
(:func:`harness.load.locustfile_run.check_main`) imports it and says, as one JSON line,
what it holds or why it cannot be used. A file that fails to import, or holds no User
class, is a :class:`ConfigError` (exit 2) naming the file and the error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

__all__ = ["LocustfileInfo", "check_locustfile"]

# Python + Locust + the user's imports, on a busy machine
CHECK_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class LocustfileInfo:
    """What a locustfile holds: its User classes (name, weight, base class) and its shape."""

    path: str
    users: tuple[tuple[str, int, str], ...]
    shape: str | None


def check_locustfile(value: str, where: str) -> LocustfileInfo:
    """Import ``value`` in a child; ``where`` names it as the user wrote it
    (``--locustfile X``, or the field and where it was set)."""
    from harness.load.driver import LOCUSTFILE_MODULE, bootstrap

    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"invalid locustfile {value!r} from {where}: no such file")
    if path.suffix != ".py":
        raise ConfigError(
            f"invalid locustfile {value!r} from {where}: must be a Python file (.py) "
            "defining Locust User classes"
        )
    try:
        done = subprocess.run(
            [sys.executable, "-c", bootstrap(LOCUSTFILE_MODULE), "--check", str(path.resolve())],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"invalid locustfile {value!r} from {where}: importing it took more than "
            f"{CHECK_TIMEOUT_S:.0f} s"
        ) from None
    answer = _answer(done.stdout)
    if answer is None:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise ConfigError(f"invalid locustfile {value!r} from {where}: {tail[0]}")
    if not answer.get("ok"):
        raise ConfigError(f"invalid locustfile {value!r} from {where}: {answer.get('error')}")
    users = tuple(
        (str(u["name"]), int(u["weight"]), str(u["base"])) for u in answer.get("users", ())
    )
    shape = answer.get("shape")
    return LocustfileInfo(str(path.resolve()), users, None if shape is None else str(shape))


def _answer(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue  # the user's own prints
        if isinstance(parsed, dict) and parsed.get("type") == "locustfile":
            return parsed
    return None
