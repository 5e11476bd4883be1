"""Toxiproxy: finding or starting a server (real, Docker, or the embedded default) and the
embedded server itself. Import the modules themselves; this package re-exports nothing, so
that ``python -m harness.toxiproxy.embedded`` loads only the embedded server."""

__all__: list[str] = []
