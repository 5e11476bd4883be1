"""Running the CLI as a user does: a subprocess with its exit code and output."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path = ROOT, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )


def stacks_of(process: subprocess.Popen[str], lines: list[str]) -> str:
    """Every thread's stack of a harness that did not end, and of its load children: each
    prints them on SIGUSR1, the harness to its stderr (``lines``, read by the caller's
    thread), a load child (the processes with a --spec) to its stderr file beside that
    spec. No other child is signalled: SIGUSR1 would end it. Waits up to 5 s."""
    import signal

    import psutil

    from target_api.testing import poll_until

    before = len(lines)
    files: list[Path] = []
    harness = psutil.Process(process.pid)
    harness.send_signal(signal.SIGUSR1)
    for proc in harness.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "--spec" in argv:
                files += Path(argv[argv.index("--spec") + 1]).parent.glob("*.stderr")
                proc.send_signal(signal.SIGUSR1)

    def read(path: Path) -> str:
        with contextlib.suppress(OSError):
            return path.read_text(errors="replace")
        return ""

    with contextlib.suppress(AssertionError, TimeoutError):
        poll_until(
            "the harness and its load processes printed their stacks",
            lambda: (
                any(line.startswith("Current thread") for line in lines[before:])
                and (not files or any("* Greenlets" in read(p) for p in files))
            ),
            5,
        )
    out = ["the harness:\n", *lines[before:]]
    for path in sorted(set(files)):
        out += [f"{path.name}:\n", read(path)[-8000:]]
    return "".join(out)
