"""Project-wide pytest hooks: the test log says which real components are serving."""

from __future__ import annotations

import os

import pytest

# the harness appends each run's summary to GitHub's job summary when this is set: the gates
# the tests run are not the job's own, so they must not (tests that check it set it back)
os.environ.pop("GITHUB_STEP_SUMMARY", None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from harness.doctor import inventory

    lines = [
        f"CI={os.environ.get('CI', '')!r}: missing real components "
        + ("FAIL their tests" if os.environ.get("CI") == "true" else "skip their tests")
    ]
    lines += [f"  {part}: {kind} ({detail})" for part, kind, detail in inventory()]
    return lines
