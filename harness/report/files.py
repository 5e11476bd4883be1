"""The report files' schema name, and writing them so that a crash never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SCHEMA", "atomic_write"]

# report.json's "schema": renamed only when a field users parse changes meaning or goes away
SCHEMA = "moonbase-reliability/1"


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
