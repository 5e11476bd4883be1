"""The CLI's signal handlers belong to its run alone: `main()` called in-process (as a test
or another tool does) leaves SIGTERM and SIGUSR1 as it found them, whatever its stderr."""

from __future__ import annotations

import contextlib
import io
import signal
from types import FrameType

from harness.cli import main


def _bad_rootdir() -> int:
    # a usage error found once main() has set its handlers: exit 2, nothing started
    return main(["run", "--rootdir", "/nonexistent-moonbase-dir"])


def test_a_captured_stderr_without_a_descriptor_is_no_crash_and_no_leftover_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert _bad_rootdir() == 2
    assert "is not a directory" in err.getvalue()
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_a_callers_own_sigusr1_handler_is_left_in_place() -> None:
    def mine(signum: int, frame: FrameType | None) -> None:
        pass

    previous = signal.signal(signal.SIGUSR1, mine)
    try:
        assert _bad_rootdir() == 2
        assert _bad_rootdir() == 2
        assert signal.getsignal(signal.SIGUSR1) is mine
    finally:
        signal.signal(signal.SIGUSR1, previous)
