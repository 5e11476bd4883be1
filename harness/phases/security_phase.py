"""The security scan of the target (:mod:`harness.security`): bandit over its Python
source, the reports of the user's own scanners, and pip-audit when asked.

:func:`check_security_reports` runs before anything starts: a named report that cannot be
read or is no report this harness reads is exit 2, naming the file and the field.
:func:`scan_security` runs in the gate's ``security`` phase and records the outcome.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.config_sections import SecuritySettings
from harness.errors import ConfigError
from harness.record import Component
from harness.security import Finding, SecurityOutcome, SecurityPart, read_bandit, read_report
from harness.session import RunContext

__all__ = ["check_security_reports", "scan_security", "security_off"]

_TIMEOUT_S = 600.0


def _report(path: str, where: str, part: str = "code") -> tuple[str, tuple[Finding, ...]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where} {path!r}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} {path!r}: not UTF-8 text (byte {exc.start})") from None
    try:
        return read_report(text, part)
    except ValueError as exc:
        raise ConfigError(f"{where} {path!r}: {exc}") from None


def check_security_reports(settings: SecuritySettings, origin: Callable[[str], str]) -> None:
    """Every named report readable and of a known format, before anything starts;
    ``origin(key)`` says where a ``security.*`` key was set."""
    if not settings.enabled:
        return
    for key, part in (("code_reports", "code"), ("dependency_reports", "dependencies")):
        for path in getattr(settings, key):
            _report(path, f"security.{key} from {origin(f'security.{key}')}:", part)
    missing = [p for p in settings.paths if not Path(p).exists()]
    if settings.bandit and missing:
        raise ConfigError(
            f"security.paths from {origin('security.paths')}: {missing[0]!r} does not exist "
            "(the target's Python source, for bandit)"
        )
    if settings.requirements and not Path(settings.requirements).is_file():
        where = origin("security.requirements")
        raise ConfigError(
            f"security.requirements from {where}: {settings.requirements!r} is not a file"
        )


def security_off(settings: SecuritySettings, managed: bool, explicit: Callable[[str], bool]) -> str:
    """Why the scan is off: a service the harness did not start, nothing named to scan or
    read, and the user did not ask for it ('' when it runs, or is disabled)."""
    if not settings.enabled or managed or explicit("security.enabled"):
        return ""
    named = settings.paths or settings.code_reports or settings.dependency_reports
    if named or settings.pip_audit:
        return ""
    return "a target the harness did not start, and no security.paths or reports to read"


def _reference_source() -> list[str]:
    spec = importlib.util.find_spec("target_api")
    return [str(Path(spec.origin).parent)] if spec and spec.origin else []


def _bandit(paths: list[str], min_confidence: str) -> tuple[str, tuple[Finding, ...]]:
    """bandit run over ``paths``: its source line and findings; ValueError why not."""
    argv = [sys.executable, "-m", "bandit", "-r", *paths, "-f", "json", "-q"]
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, bandit, the profile's paths
            argv, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"bandit did not finish in {_TIMEOUT_S:g} s") from None
    if done.returncode not in (0, 1):  # 1: it found something
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ValueError(f"bandit failed: {last}")
    doc = json.loads(done.stdout)
    findings = read_bandit(doc, min_confidence)
    files = [k for k in doc.get("metrics", {}) if k != "_totals"]
    errors = doc.get("errors") or []
    if errors:  # a file it could not read (or a path that is not there) was not scanned
        first = errors[0] if isinstance(errors[0], dict) else {"reason": errors[0]}
        raise ValueError(
            f"bandit could not scan {first.get('filename', '?')}: {first.get('reason')}"
        )
    if not files:
        raise ValueError(f"bandit found no Python file under {', '.join(paths)}")
    import bandit

    names = ", ".join(Path(p).name for p in paths)
    version = getattr(bandit, "__version__", "?")
    return f"bandit {version} on {names} ({len(files)} files)", findings


def _code(ctx: RunContext, settings: SecuritySettings, managed: bool) -> SecurityPart:
    sources: list[str] = []
    findings: list[Finding] = []
    paths = settings.paths or (_reference_source() if managed else [])
    why = ""
    if settings.bandit and paths:
        try:
            source, found = _bandit(paths, settings.min_confidence)
            sources.append(source)
            findings += found
        except ValueError as exc:
            why = str(exc)  # what the reports found still counts toward a fail
    for path in settings.code_reports:
        kind, found = _report(path, "security.code_reports:")
        sources.append(f"{kind} {Path(path).name}")
        findings += found
    if why or not sources:
        why = why or "no security.paths for bandit and no security.code_reports"
        return SecurityPart(tuple(sources), tuple(findings), why_none=why)
    ctx.say(f"security: code: {len(findings)} findings ({'; '.join(sources)})")
    return SecurityPart(tuple(sources), tuple(findings))


def _pip_audit(settings: SecuritySettings, managed: bool) -> tuple[str, tuple[Finding, ...]]:
    """pip-audit run live; ValueError saying why it gave no data."""
    if importlib.util.find_spec("pip_audit") is None:
        raise ValueError("pip-audit is not installed (pip install pip-audit)")
    if not settings.requirements and not managed:
        raise ValueError("security.pip_audit needs security.requirements for this service")
    argv = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
    argv += ["--requirement", settings.requirements] if settings.requirements else []
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, pip-audit, the requirements
            argv, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"pip-audit did not finish in {_TIMEOUT_S:g} s") from None
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ValueError(f"pip-audit gave no report: {last}") from None
    deps = doc.get("dependencies") if isinstance(doc, dict) else doc
    _, findings = read_report(done.stdout, "dependencies")  # skipped dependencies: no data
    return f"pip-audit ({len(deps) if isinstance(deps, list) else '?'} dependencies)", findings


def _dependencies(ctx: RunContext, settings: SecuritySettings, managed: bool) -> SecurityPart:
    sources: list[str] = []
    findings: list[Finding] = []
    for path in settings.dependency_reports:  # read even when "off": a report named is data
        kind, found = _report(path, "security.dependency_reports:", "dependencies")
        blind = " (it lists only vulnerable packages: how many were scanned it does not say)"
        sources.append(f"{kind} {Path(path).name}" + (blind if kind.startswith("OSV") else ""))
        findings += found
    if settings.dependencies == "off" and not sources and not settings.pip_audit:
        return SecurityPart(off="security.dependencies = 'off' in this profile")
    why = "no security.dependency_reports, and security.pip_audit is off"
    if settings.pip_audit:
        try:
            source, found = _pip_audit(settings, managed)
            sources.append(source)
            findings += found
        except ValueError as exc:
            why = str(exc)
            if sources:  # the reports stand; that pip-audit added nothing is said beside them
                sources.append(f"pip-audit gave no data: {why}")
    if not sources:
        return SecurityPart(why_none=why)
    ctx.say(f"security: dependencies: {len(findings)} findings ({'; '.join(sources)})")
    return SecurityPart(tuple(sources), tuple(findings))


def scan_security(ctx: RunContext, settings: SecuritySettings, managed: bool) -> SecurityOutcome:
    """The code and the dependencies scanned as the profile says; recorded in the run."""
    outcome = SecurityOutcome(_code(ctx, settings, managed), _dependencies(ctx, settings, managed))
    for name, part in (("code", outcome.code), ("dependencies", outcome.dependencies)):
        if part.why_none:
            ctx.say(f"security: {name}: no data ({part.why_none})")
    if outcome.code.sources and any(s.startswith("bandit") for s in outcome.code.sources):
        ctx.state.add_component("security", Component("real", outcome.code.sources[0]))
    ctx.state.record(security=outcome)
    return outcome
