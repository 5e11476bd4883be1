"""What `reliable-test-runner run` imports before its pytest session starts is paid on every
run (issue 15): the heavy libraries (scipy and numpy for the statistics, jinja2 for the
HTML report, Locust, schemathesis) load while the tests run, never before."""

from __future__ import annotations

import subprocess
import sys

# the modules `run` imports before it starts pytest (cli -> commands -> the tests phase)
_BEFORE_PYTEST = (
    "harness.cli",
    "harness.commands",
    "harness.phases.tests_phase",
    "harness.runner.pytest_runs",
)
_HEAVY = ("scipy", "numpy", "jinja2", "locust", "schemathesis", "hdrh", "gevent", "httpx")


def test_run_imports_no_heavy_library_before_pytest_starts() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {_BEFORE_PYTEST!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(m for m in {_HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == [], f"imported before pytest starts: {done.stdout.strip()}"
