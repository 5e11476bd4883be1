"""Broken input files through the real CLI: exit 2, the file named, never a traceback.

The loaders themselves are fuzzed in tests/unit/test_loader_fuzz.py; this checks that what
they raise reaches the user as a configuration error, before anything is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration

DEEP_ARRAYS = b"a = " + b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("command", "name", "data"),
    [
        (["gate", "--config"], "reliability.toml", b'default_profile = "\xff"\n'),
        (["gate", "--config"], "reliability.toml", DEEP_ARRAYS),
        (["gate", "--config"], "reliability.toml", b"default_profile = [1]\n"),
        (["gate", "--config"], "pyproject.toml", b"[tool]\nreliability = 1\n"),
        (["gate", "--config"], "a-directory", None),
        (["load", "--load-file"], "load.toml", b"[json." + b".".join([b"k"] * 1500) + b"]\n"),
        (
            ["load", "--load-file"],
            "load.toml",
            b'[[requests]]\npath = "/"\njson = { at = 1979-05-27T07:32:00Z }\n',
        ),
        (["chaos"], "experiment.toml", b'title = "\xff"\n'),
        (["chaos"], "experiment.toml", DEEP_ARRAYS),
    ],
    ids=[
        "config-not-utf8",
        "config-deep-arrays",
        "config-default-profile-a-list",
        "pyproject-reliability-not-a-table",
        "config-a-directory",
        "load-file-deep-tables",
        "load-file-json-with-a-date",
        "experiment-not-utf8",
        "experiment-deep-arrays",
    ],
)
def test_a_broken_input_file_exits_2_naming_it_without_a_traceback(
    tmp_path: Path, command: list[str], name: str, data: bytes | None
) -> None:
    path = tmp_path / name
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    result = run_cli(*command, str(path), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()  # refused before any run was opened
