"""The reference Moonbase v0 API and its JobDirector.

Run it with ``python -m target_api --host 127.0.0.1 --port 0 --data-dir DIR``; once the
socket is bound it prints ``moonbase-api listening on http://HOST:PORT`` to stdout and
serves until SIGTERM/SIGINT (then exits 0).

Environment:

- ``MOONBASE_API_TOKEN``: the bearer token mutating calls need (401 without, 403 wrong).
  Unset or empty: the API generates a random token, writes it to ``DATA_DIR/api-token``
  (mode 0600) and says so on stderr. Mutating calls are never open to anyone.
- ``MOONBASE_DATABASE_URL``: ``postgresql://...`` for PostgreSQL; unset for a SQLite file
  in the data directory.
- ``MOONBASE_RUNTIME``: ``process`` (default) or ``docker``.
- ``MOONBASE_ARTIFACTS_DIR``: root of job artifacts (default ``DATA_DIR/artifacts``).
- ``MOONBASE_MAX_BODY_BYTES`` (default 1 MiB; larger bodies get 413),
  ``MOONBASE_MAX_RUNNING_JOBS`` (default 8).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from target_api.app import create_app
    from target_api.server import main
    from target_api.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings", "main"]

# Loaded when first used, so that importing a light module of the package
# (target_api.launch, target_api.exceptions) does not load the web stack: the harness
# builds the API's command line from target_api.launch.
_EXPORTED_FROM = {
    "Settings": "target_api.settings",
    "create_app": "target_api.app",
    "load_settings": "target_api.settings",
    "main": "target_api.server",
}


def __getattr__(name: str) -> object:
    if name not in _EXPORTED_FROM:
        raise AttributeError(f"module 'target_api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTED_FROM[name]), name)
    globals()[name] = value  # looked up once
    return value
