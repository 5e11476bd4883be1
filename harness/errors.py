"""The harness's exceptions, one tree under :class:`HarnessError`.

::

    HarnessError
    ├── ConfigError (ValueError)          bad config file, profile, --set or CLI value   -> exit 2
    ├── UsageError (ValueError)           bad command-line usage                         -> exit 2
    ├── ScenarioError (ValueError)        a scenario file that does not validate         -> exit 2
    ├── UnsafeTargetError (ValueError)    a target or upstream outside 127.0.0.0/8       -> exit 2
    ├── InvalidAttribute (ValueError)     a toxic attribute the embedded proxy refuses (400)
    ├── ApiError                          the embedded Toxiproxy API's answer (never the CLI's)
    └── InfrastructureError (RuntimeError) a component did not start or went away        -> exit 4
        ├── TargetStartError              the reference API did not come up
        ├── ToxiproxyUnavailable          no Toxiproxy server could be had
        └── LoadGeneratorError            the Locust process failed

    Terminated (KeyboardInterrupt)        SIGTERM, handled as an interruption           -> exit 130

Every message names where the bad value came from, the value, and what is valid.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "HarnessError",
    "InfrastructureError",
    "LoadGeneratorError",
    "ScenarioError",
    "TargetStartError",
    "Terminated",
    "ToxiproxyUnavailable",
    "UnsafeTargetError",
    "UsageError",
]


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""

    exit_code: int = 4


class ConfigError(HarnessError, ValueError):
    """A configuration value is invalid; the message says where it came from."""

    exit_code = 2


class UsageError(HarnessError, ValueError):
    """The command line cannot be understood."""

    exit_code = 2


class ScenarioError(HarnessError, ValueError):
    """A declarative scenario (chaos or load TOML) does not validate."""

    exit_code = 2


class UnsafeTargetError(HarnessError, ValueError):
    """A target or upstream is outside the loopback range and no allow flag was given."""

    exit_code = 2


class InfrastructureError(HarnessError, RuntimeError):
    """A real component or embedded default could not be started or was lost."""

    exit_code = 4


class TargetStartError(InfrastructureError):
    """The reference API (or the --target-url service) is not reachable."""


class ToxiproxyUnavailable(InfrastructureError):
    """No Toxiproxy server: none at TOXIPROXY_URL, none on PATH, none embedded."""


class LoadGeneratorError(InfrastructureError):
    """The Locust load process failed or produced no result."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (how CI cancels a job), raised by the CLI's handler so that it takes the
    interruption path: the run's report is finished as "interrupted" and every child the
    run started is stopped."""


def interruption_cause(exc: KeyboardInterrupt) -> str:
    """How a run was interrupted, for messages and report.json."""
    if isinstance(exc, Terminated):
        # a signal does not say who sent it: CI cancelling the job, a supervisor, kill
        return "terminated (SIGTERM) by a sender the harness cannot know"
    return "interrupted (SIGINT: Ctrl-C, or kill -INT)"
