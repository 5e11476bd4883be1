"""ManagedProcess: a drained child never blocks on its own output."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.processes import ManagedProcess

# a blank line, then far more than a pipe holds (64 KiB), then the last line
_CHATTY = "print('first'); print(); [print('x' * 100) for _ in range(5000)]; print('last')"


def test_a_drained_child_past_a_blank_line_and_a_full_pipe_ends_and_is_logged(
    tmp_path: Path,
) -> None:
    log = tmp_path / "child.log"
    process = ManagedProcess("chatty", [sys.executable, "-c", _CHATTY], log_path=log)
    process.start()
    process.drain()
    assert process.proc is not None
    assert process.proc.wait(timeout=60) == 0  # it was never stuck writing to a full pipe
    process.stop()
    lines = log.read_text().splitlines()
    assert lines[:2] == ["first", ""]
    assert lines[-1] == "last"
    assert len(lines) == 5003
