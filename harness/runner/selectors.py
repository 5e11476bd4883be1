"""What the user's selectors mean: paths, markers (found case-insensitively) or -k keywords.

``reliable-test-runner JobDirector`` selects by the marker ``jobdirector`` when the
project registers it, by the path when one exists, else by keyword.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError, UsageError

__all__ = ["Selection", "known_markers", "resolve_selectors"]

# pytest --markers imports the project's conftest files: a minute is ample on 2 cores
MARKER_LOOKUP_TIMEOUT_S = 60.0
_KEYWORD = re.compile(r"[\w\[\]\- .()]+")


@dataclass(frozen=True, slots=True)
class Selection:
    """The selectors split by kind; each kind is OR-ed within itself."""

    paths: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def markexpr(self) -> str:
        return " or ".join(self.markers)

    @property
    def keyword(self) -> str:
        return " or ".join(self.keywords)


def resolve_selectors(selectors: Sequence[str], rootdir: Path) -> Selection:
    """Split selectors into paths, markers and keywords."""
    paths: list[str] = []
    markers: list[str] = []
    keywords: list[str] = []
    known: dict[str, str] | None = None
    for selector in selectors:
        bare = selector.split("::", 1)[0]
        if (rootdir / bare).exists():
            paths.append(selector)
            continue
        if known is None:  # asked only when some selector is not a path
            known = known_markers(rootdir)
        if selector.lower() in known:
            markers.append(known[selector.lower()])
        elif _KEYWORD.fullmatch(selector):
            keywords.append(selector)
        else:
            raise UsageError(
                f"selector {selector!r} is not a path under {rootdir}, a marker "
                f"({', '.join(sorted(known.values())) or 'none registered'}) or a keyword"
            )
    return Selection(tuple(paths), tuple(markers), tuple(keywords))


def known_markers(rootdir: Path) -> dict[str, str]:
    """The markers the project at ``rootdir`` registers, by lower-case name.

    A lookup that fails is an error, never an empty answer: a marker taken for a ``-k``
    keyword would quietly select something else."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--markers",
        "-p",
        "no:locust",
        "-p",
        "no:cacheprovider",
        f"--rootdir={rootdir}",
    ]
    try:
        out = subprocess.run(
            argv,
            cwd=rootdir,
            capture_output=True,
            text=True,
            timeout=MARKER_LOOKUP_TIMEOUT_S,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(
            f"listing the markers of {rootdir} (pytest --markers) took over "
            f"{MARKER_LOOKUP_TIMEOUT_S:.0f} s"
        ) from None
    except OSError as exc:
        raise InfrastructureError(f"could not run pytest --markers in {rootdir}: {exc}") from None
    if out.returncode != 0:
        lines = [line for line in (out.stderr or out.stdout).splitlines() if line.strip()]
        # pytest's own error lines start with "E   "
        why = lines[-1].removeprefix("E ").strip() if lines else f"exit {out.returncode}"
        raise UsageError(f"pytest cannot read the project at {rootdir} to list its markers: {why}")
    names = re.findall(r"^@pytest\.mark\.(\w+)", out.stdout, flags=re.MULTILINE)
    return {name.lower(): name for name in names}
