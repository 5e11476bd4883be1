"""Chaos: experiments as data, fault injectors, the supervisor, Toxiproxy provisioning and
the embedded Toxiproxy. Import the modules themselves; this package re-exports nothing, so
that ``python -m harness.faults.embedded`` loads only the embedded server."""

__all__: list[str] = []
