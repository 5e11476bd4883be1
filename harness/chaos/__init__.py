"""Chaos experiments: the experiment model (TOML as data), its execution with probes and
recovery timing, the load window during a fault, and the chaos phase of a gate run.
Import the modules themselves; this package re-exports nothing."""

__all__: list[str] = []
