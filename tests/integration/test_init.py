"""``reliable-test-runner init`` against a tiny service written here (not the reference API),
then ``gate`` on what it wrote, as a new user would: it must pass."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def tiny_service() -> Iterator[str]:
    """A stdlib HTTP/1.1 service: /health answers 200, everything else 404."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = b'{"status": "ok"}' if self.path == "/health" else b'{"error": "no"}'
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            return None  # a client that hung up (the chaos phase's probes) is no error here

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_init_then_gate_passes_on_a_service_the_harness_has_never_seen(
    tiny_service: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("a project of its own\n")
    done = run_cli("init", "--target-url", tiny_service, "--name", "Tiny shop", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GET /health answered 200: the ready path" in done.stdout
    assert f"reliable-test-runner gate --target-url {tiny_service}" in done.stdout
    written = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert written == [
        "README.md", "reliability.toml", "reliability/chaos/tiny-shop-latency.toml",
        "reliability/load/tiny-shop.toml", "reliability/test_tiny_shop_reliability.py",
    ]  # fmt: skip
    assert 'ready_path = "/health"' in (project / "reliability.toml").read_text()

    gate = run_cli(
        "gate", "--target-url", tiny_service, "--report-dir", str(project / "reports"),
        cwd=project, timeout=400,
    )  # fmt: skip
    assert gate.returncode == 0, gate.stdout[-4000:] + gate.stderr[-2000:]
    report = json.loads((project / "reports" / "latest" / "report.json").read_text())
    # the profile named smoke keeps the built-in one's other gates: off here, each with why
    # (no coverage report, no PID, no baseline yet), never a pass over nothing measured
    outcomes = {g["name"]: g["outcome"] for g in report["gates"] if g["outcome"] != "off"}
    assert outcomes == {
        "test_success": "pass", "load_error_rate": "pass", "load_p95_ms": "pass",
        "chaos_recovery_s": "pass",
    }  # fmt: skip
    assert [t["n"] for t in report["tests"]] == [10, 10]  # 2 scenarios x 10 runs each

    again = run_cli("init", "--target-url", tiny_service, cwd=project)
    assert again.returncode == 2
    assert "never overwrites" in again.stderr
    assert "reliability.toml" in again.stderr


def test_init_against_a_service_that_does_not_answer_still_writes_and_says_so(
    free_tcp_port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_tcp_port}"
    done = run_cli("init", "--target-url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not answer" in done.stdout
    assert 'ready_path = "/"' in (tmp_path / "reliability.toml").read_text()
    assert (tmp_path / "reliability" / "test_service_reliability.py").exists()


def test_init_refuses_a_non_loopback_target(tmp_path: Path) -> None:
    done = run_cli("init", "--target-url", "http://10.1.2.3:8080", cwd=tmp_path)
    assert done.returncode == 2
    assert "10.1.2.3" in done.stderr
    assert list(tmp_path.iterdir()) == []
