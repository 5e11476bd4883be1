"""The API's settings: command-line options layered over environment variables."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from target_api.exceptions import MoonbaseError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a stack or job spec is a few KiB at most
DEFAULT_MAX_RUNNING_JOBS = 8  # two cores here; more only queues in the kernel instead of here
VALID_RUNTIMES = ("process", "docker")
# A director not seen for this long (several missed heartbeats) has its running jobs taken
# over by another director sharing the database. Longer than any pause we inject on purpose.
DEFAULT_DIRECTOR_LEASE_S = 15.0


class SettingsError(MoonbaseError, ValueError):
    """A setting has a value the API cannot run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the API needs to start, resolved and validated."""

    data_dir: Path
    api_token: str
    token_generated: bool
    database_url: str  # "sqlite:///abs/path" or "postgresql://..."
    runtime: str
    artifacts_dir: Path
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_running_jobs: int = DEFAULT_MAX_RUNNING_JOBS
    director_lease_s: float = DEFAULT_DIRECTOR_LEASE_S
    reap_orphans: bool = False  # only the server process may adopt and reap orphans

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"invalid {name}={raw!r} from the environment: must be an integer > 0")
    return value


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise SettingsError(f"invalid {name}={raw!r} from the environment: must be a number > 0")
    return value


def load_settings(
    data_dir: Path, environ: Mapping[str, str] | None = None, *, reap_orphans: bool = False
) -> Settings:
    """Resolve settings from ``environ`` (default ``os.environ``).

    Without MOONBASE_API_TOKEN a random token is generated and written to
    ``DATA_DIR/api-token`` (mode 0600): mutating calls stay protected, and whoever can
    read the data directory can use the API.
    """
    env = os.environ if environ is None else environ
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    token = env.get("MOONBASE_API_TOKEN", "")
    generated = token == ""
    if generated:
        token = secrets.token_urlsafe(32)
        token_file = data_dir / "api-token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")

    database_url = env.get("MOONBASE_DATABASE_URL", "")
    if database_url == "":
        database_url = f"sqlite:///{data_dir / 'moonbase.sqlite3'}"
    elif not database_url.startswith(("postgresql://", "postgres://", "sqlite:///")):
        raise SettingsError(
            f"invalid MOONBASE_DATABASE_URL={database_url.split('@')[-1]!r} from the environment:"
            " must start with postgresql:// or sqlite:/// (or be unset for SQLite in --data-dir)"
        )

    runtime = env.get("MOONBASE_RUNTIME", "") or "process"
    if runtime not in VALID_RUNTIMES:
        raise SettingsError(
            f"invalid MOONBASE_RUNTIME={runtime!r} from the environment:"
            f" must be one of {', '.join(VALID_RUNTIMES)}"
        )

    artifacts = env.get("MOONBASE_ARTIFACTS_DIR", "")
    artifacts_dir = Path(artifacts).expanduser().resolve() if artifacts else data_dir / "artifacts"
    artifacts_dir.mkdir(parents=True, exist_ok=True)

    return Settings(
        data_dir=data_dir,
        api_token=token,
        token_generated=generated,
        database_url=database_url,
        runtime=runtime,
        artifacts_dir=artifacts_dir,
        max_body_bytes=_positive_int(env, "MOONBASE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        max_running_jobs=_positive_int(env, "MOONBASE_MAX_RUNNING_JOBS", DEFAULT_MAX_RUNNING_JOBS),
        director_lease_s=_positive_float(
            env, "MOONBASE_DIRECTOR_LEASE_S", DEFAULT_DIRECTOR_LEASE_S
        ),
        reap_orphans=reap_orphans,
    )


def warn(message: str) -> None:
    """One line to stderr, for operators (stdout carries only the listening line)."""
    print(f"moonbase-api: {message}", file=sys.stderr, flush=True)
