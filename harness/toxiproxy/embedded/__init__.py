"""An embedded, Toxiproxy-compatible fault-injection proxy.

Used when no real Toxiproxy server is available: it speaks Toxiproxy 2.x's HTTP API, so
toxiproxy-python (or any Toxiproxy client) drives it unchanged, and the conformance suite
(``tests/integration/test_toxiproxy_conformance.py``) checks it against the real server.

    from harness.toxiproxy.embedded import EmbeddedToxiproxy
    with EmbeddedToxiproxy(host="127.0.0.1", port=0) as server:
        print(server.url)

Run it alone with ``python -m harness.toxiproxy.embedded --host 127.0.0.1 --port 0``.
"""

from __future__ import annotations

from harness.toxiproxy.embedded.server import EmbeddedToxiproxy

__all__ = ["EmbeddedToxiproxy"]
