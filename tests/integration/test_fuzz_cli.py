"""API fuzzing through the CLI, with the real schemathesis: a service with a bug and a
wrong content type is caught, each failure with its reproduction; the reference API passes
its own document with no finding; a bad document is refused before anything starts."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import run_cli

from harness.phases.fuzz_phase import schemathesis_command
from harness.plugin import require_component

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_DOC = {
    "openapi": "3.0.3",
    "info": {"title": "divider", "version": "1"},
    "paths": {
        "/divide/{n}": {
            "get": {
                "parameters": [
                    {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {
                        "description": "100 / n",
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["value"],
                            "properties": {"value": {"type": "number"}}}}},
                    },
                    "400": {"description": "n is no integer"},
                },
            }
        },
        "/health": {
            "get": {
                "responses": {
                    "200": {
                        "description": "up",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                }
            }
        },
    },
}  # fmt: skip


class _Divider(BaseHTTPRequestHandler):
    """100 / n, with its bug: n = 0 is a 500; /health answers text, not the JSON it says."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/openapi.json":
            return self._answer(200, json.dumps(_DOC).encode())
        if path == "/health":
            return self._answer(200, b"up", "text/plain")
        if path.startswith("/divide/"):
            try:
                n = int(path.removeprefix("/divide/"))
            except ValueError:
                return self._answer(400, b'{"error": "not an integer"}')
            try:
                return self._answer(200, json.dumps({"value": 100 / n}).encode())
            except ZeroDivisionError:
                return self._answer(500, b'{"error": "internal"}')
        return self._answer(404, b'{"error": "no such path"}')

    def log_message(self, *args: object) -> None:
        return None


@contextlib.contextmanager
def _divider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Divider)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _schemathesis() -> None:
    require_component("schemathesis", schemathesis_command() is not None, " (./moonbase setup)")


def test_a_server_error_and_a_wrong_content_type_are_found_with_their_reproduction(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    with _divider() as url:
        result = run_cli(
            "fuzz", "--target-url", url, "--max-examples", "10", "--report-dir", str(reports),
            cwd=tmp_path, timeout=300,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((reports / "latest" / "report.json").read_text())
    fuzz = report["fuzz"]
    assert fuzz["tool"].startswith("schemathesis 4")
    assert fuzz["server_errors"] >= 1
    assert fuzz["violations"] >= 1
    assert fuzz["cases"] >= fuzz["server_errors"] + 1
    assert set(fuzz["operations"]) == {"GET /divide/{n}", "GET /health"}
    server = next(f for f in fuzz["failures"] if f["check"] == "not_a_server_error")
    assert server["operation"] == "GET /divide/{n}"
    assert server["reproduce"]["path"] == "/divide/0"
    assert server["reproduce"]["curl"].endswith(f"{url}/divide/0")
    assert any(
        f["check"] == "content_type_conformance" and f["operation"] == "GET /health"
        for f in fuzz["failures"]
    )
    gates = {g["name"]: g for g in report["gates"]}
    assert gates["api_server_errors_max"]["outcome"] == "fail"
    assert gates["api_contract_violations_max"]["outcome"] == "fail"
    assert "one-sided 95%" in gates["api_server_errors_max"]["detail"]
    summary = (reports / "latest" / "summary.md").read_text()
    assert "## API fuzzing" in summary
    assert "/divide/0" in summary
    html = (reports / "latest" / "index.html").read_text()
    assert 'id="fuzz-failures"' in html


def test_the_reference_api_passes_its_own_document_with_no_finding(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "fuzz", "--max-examples", "5", "--seed", "3", "--report-dir", str(reports),
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    fuzz = json.loads((reports / "latest" / "report.json").read_text())["fuzz"]
    assert (fuzz["server_errors"], fuzz["violations"], fuzz["untested"]) == (0, 0, {})
    assert fuzz["seed"] == 3
    assert len(fuzz["operations"]) == 17
    assert all(o["cases"] > 0 for o in fuzz["operations"].values())


def test_a_missing_document_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run_cli(
        "fuzz", "--openapi-file", str(missing), "--report-dir", str(tmp_path / "r"),
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--openapi-file" in result.stderr
    assert str(missing) in result.stderr
    assert not (tmp_path / "r" / "latest").exists()


def test_a_relative_openapi_file_is_read_from_where_the_command_ran(tmp_path: Path) -> None:
    from target_api.routes.meta import openapi_document

    (tmp_path / "openapi.json").write_text(json.dumps(openapi_document()))
    reports = tmp_path / "reports"
    result = run_cli(
        "fuzz", "--openapi-file", "openapi.json", "--max-examples", "2", "--report-dir",
        str(reports), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    fuzz = json.loads((reports / "latest" / "report.json").read_text())["fuzz"]
    assert len(fuzz["operations"]) == 17
    assert fuzz["untested"] == {}
