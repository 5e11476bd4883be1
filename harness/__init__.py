"""Moonbase reliability harness: isolated, repeated test runs, load, chaos, honest statistics."""

from harness.errors import (
    ConfigError,
    HarnessError,
    InfrastructureError,
    ScenarioError,
    UsageError,
)

__all__ = [
    "ConfigError",
    "HarnessError",
    "InfrastructureError",
    "ScenarioError",
    "UsageError",
    "__version__",
]

__version__ = "0.1.0"
