"""Chaos experiments: the experiment model (TOML as data), its execution with probes and
recovery timing, and the load window during a fault (the phase that runs them is
:mod:`harness.phases.chaos_phase`). Import the modules themselves; this package re-exports
nothing."""

__all__: list[str] = []
