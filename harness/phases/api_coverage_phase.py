"""API coverage: the tests phase's traffic, recorded on its way to the target and matched
to the target's OpenAPI document (:mod:`harness.api_coverage`).

:func:`recorded` wraps the tests phase: it reads the document (``api_coverage.openapi_file``,
else the one the target serves at ``openapi_path``), starts the recording hop
(:mod:`harness.http_recorder`) in front of the target, and hands the tests the hop's URL.
When the block ends, also by an interruption, the hop is stopped and what it recorded is
matched and recorded in the run. Without a document the tests go to the target directly,
and API coverage reads "not measured" with why.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.api_coverage import ApiCoverage, Operation, measure_api_coverage, operations_of
from harness.config import ApiCoverageSettings
from harness.errors import ConfigError
from harness.record import Component
from harness.session import RunContext
from harness.target import Target

__all__ = [
    "ApiTraffic",
    "check_openapi_file",
    "load_openapi_file",
    "recorded",
    "served_operations",
]


@dataclass(slots=True)
class ApiTraffic:
    """What the tests are to reach (the hop, or the target itself) and, once the block has
    ended, the coverage measured (None, with ``why_not``, when it was not)."""

    url: str
    coverage: ApiCoverage | None = None
    why_not: str = ""


def _operations(text: str) -> tuple[Operation, ...]:
    """The operations of a document in JSON or YAML; ValueError saying what is wrong."""
    doc = json.loads(text) if text.lstrip().startswith("{") else _yaml(text)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON or YAML object")
    return operations_of(doc)


def load_openapi_file(path: Path, where: str) -> tuple[Operation, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where} {str(path)!r}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{where} {str(path)!r}: not UTF-8 text (byte {exc.start}); an OpenAPI 3 document "
            "in JSON or YAML is expected"
        ) from None
    try:
        return _operations(text)
    except ValueError as exc:
        raise ConfigError(
            f"{where} {str(path)!r}: {exc}; an OpenAPI 3 document in JSON or YAML is expected"
        ) from None


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"neither JSON nor valid YAML ({exc})") from None


def check_openapi_file(settings: ApiCoverageSettings, origin: str) -> None:
    """A named document that is missing or is no OpenAPI document: exit 2 before anything
    starts, naming the file and where it was set."""
    if settings.enabled and settings.openapi_file:
        load_openapi_file(Path(settings.openapi_file), f"api_coverage.openapi_file from {origin}:")


def _served(settings: ApiCoverageSettings, target: Target) -> tuple[tuple[Operation, ...], str]:
    return served_operations(settings.openapi_path, target)


def served_operations(openapi_path: str, target: Target) -> tuple[tuple[Operation, ...], str]:
    """The document the target serves at ``openapi_path`` (JSON or YAML): its operations
    and where they came from; ValueError saying why there is none."""
    import httpx

    url = target.url.rstrip("/") + openapi_path
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    try:  # trust_env=False: no proxy from the environment between the harness and the target
        response = httpx.get(url, headers=headers, timeout=10.0, trust_env=False)
    except httpx.HTTPError as exc:
        raise ValueError(f"GET {openapi_path}: {exc!r}") from None
    if response.status_code != 200:
        raise ValueError(f"GET {openapi_path} answered {response.status_code}")
    try:
        return _operations(response.text), f"served at {openapi_path}"
    except ValueError as exc:
        raise ValueError(f"GET {openapi_path}: {exc}") from None


def _traffic(path: Path) -> Iterator[tuple[str, str, int, bool]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
                raw = str(r.get("raw") or r["path"])  # as sent; "path" alone in older files
                yield str(r["method"]), raw, int(r["status"]), bool(r.get("hop"))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill: the requests before it count


@contextmanager
def recorded(
    ctx: RunContext,
    settings: ApiCoverageSettings,
    target: Target,
    *,
    allow_non_loopback: bool = False,
    optional: bool = False,
) -> Iterator[ApiTraffic]:
    """The tests phase's traffic through the recording hop (see the module docstring).
    ``optional``: without a document API coverage is off (the caller lists it so), not "not
    measured"."""
    traffic = ApiTraffic(target.url)
    if not settings.enabled:
        yield traffic
        return
    try:
        if settings.openapi_file:
            ops = load_openapi_file(Path(settings.openapi_file), "api_coverage.openapi_file")
            source = f"in {settings.openapi_file}"
        else:
            ops, source = _served(settings, target)
    except ValueError as exc:
        traffic.why_not = f"no OpenAPI document: {exc}"
        said = "off" if optional else "not measured"
        ctx.say(f"api coverage: {said} ({traffic.why_not})")
        ctx.state.record(api_coverage_why=traffic.why_not)
        yield traffic
        return
    from harness.http_recorder import LISTENING
    from harness.processes import ManagedProcess

    out = ctx.state.run_dir / "api-traffic.jsonl"
    argv = [sys.executable, "-m", "harness.http_recorder", "--upstream", target.url]
    argv += ["--out", str(out)] + (["--allow-non-loopback"] if allow_non_loopback else [])
    hop = ManagedProcess("recording hop", argv)
    hop.start()
    try:
        traffic.url = hop.wait_for_line(LISTENING + r"(http://\S+)", 30.0).group(1)
    except BaseException:
        hop.stop()
        raise
    hop.drain()
    ctx.say(f"api coverage: {len(ops)} operations ({source}); the tests go through {traffic.url}")
    ctx.state.add_component("api_coverage", Component("real", "recording HTTP hop"))
    try:
        yield traffic
    finally:
        died = None if hop.alive() else hop.proc.returncode if hop.proc else None
        hop.stop()
        coverage = measure_api_coverage(ops, _traffic(out), source)
        if died is not None:  # the tests lost their way to the target: the count is partial
            tail = "; ".join(hop.tail()[-3:])
            traffic.why_not = (
                f"the recording hop ended by itself (exit {died}) during the tests phase: "
                f"only what it recorded before counts{': ' + tail if tail else ''}"
            )
            ctx.say(f"api coverage: {traffic.why_not}")
            coverage = replace(coverage, broken=traffic.why_not)
        traffic.coverage = coverage
        k, n = coverage.operations_exercised
        kr, nr = coverage.responses_exercised
        ctx.say(
            f"api coverage: {k}/{n} operations, {kr}/{nr} documented responses exercised "
            f"by {coverage.requests} requests"
        )
        ctx.state.record(api_coverage=coverage)
