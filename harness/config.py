"""Configuration: named profiles, layered CLI > environment > file > embedded defaults.

Sources, lowest first:

1. the embedded defaults (``harness/defaults.toml``);
2. a file: ``--config FILE``, else ``reliability.toml`` in the working directory, else
   ``[tool.reliability]`` of ``pyproject.toml`` there;
3. the environment: ``RELIABILITY__<SECTION>__<KEY>=value`` (``__`` separates levels,
   e.g. ``RELIABILITY__GATES__LOAD_P95_MS=5``) applies to the active profile;
4. the command line: ``--set dotted.key=value`` and the options of each command.

Every error names the source (file and field, ``--set``, or the variable), the bad value
and what would be valid.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.config_load import AbortableGate, LoadSettings, RequestGateSettings
from harness.config_sections import (
    ApiCoverageSettings,
    CoverageSettings,
    FuzzSettings,
    Percent,
    RegressionSettings,
    ResourceSettings,
    SecuritySettings,
)
from harness.errors import ConfigError
from harness.validation import allowed_fields, too_deep

__all__ = [
    "AvailabilitySettings",
    "ChaosSettings",
    "ApiCoverageSettings",
    "CoverageSettings",
    "GateSettings",
    "LoadSettings",
    "PATH_FIELDS",
    "Profile",
    "ReadinessSettings",
    "RegressionSettings",
    "ResolvedConfig",
    "ResourceSettings",
    "SloSettings",
    "TargetSettings",
    "TestSettings",
    "load_config",
    "parse_override",
]

ENV_PREFIX = "RELIABILITY__"

PositiveFloat = Annotated[float, Field(gt=0)]
Off = Literal["off"]


class _Model(BaseModel):
    # defer_build: a section's validator is built when it is first used, not at import (the
    # profile's validator holds them all): paid once, not twice, on every command's start
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class TestSettings(_Model):
    """How the pytest scenarios run."""

    paths: list[str] = ["scenarios"]
    markexpr: str = ""
    keyword: str = ""
    workers: str = "2"
    repeat: Annotated[int, Field(ge=1, le=100_000)] = 1
    timeout_s: PositiveFloat = 30.0
    budget_s: PositiveFloat = 600.0
    slo: Annotated[float, Field(gt=0, lt=1)] = 0.99
    until_confident: bool = False
    reruns: Annotated[int, Field(ge=0, le=10)] = 0
    seed: int | None = None

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: str) -> str:
        if value == "auto" or (value.isdigit() and int(value) >= 0):
            return value
        raise ValueError("must be 'auto' or a whole number >= 0")


class ChaosSettings(_Model):
    """The chaos phase: which experiments, how often."""

    enabled: bool = True
    experiments: list[str] = ["api-latency"]
    directory: str = "scenarios/chaos"
    injections: Annotated[int, Field(ge=1, le=10_000)] = 1


class TargetSettings(_Model):
    """The service under test at ``--target-url``: when it counts as ready.

    With ``ready_path`` unset a TCP connect is the check (any service passes it once it
    listens); with it set, GET ``ready_path`` must answer one of ``ready_status``. The
    reference API, which the harness starts itself, is always checked on its own
    ``/api/v0/ping``.
    """

    name: str = ""  # what the reports call the service; default: its URL
    ready_path: str | None = None
    ready_status: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1)] = [
        200
    ]
    ready_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0

    @field_validator("ready_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be a path starting with '/', e.g. /healthz")
        return value


class GateSettings(_Model):
    """Thresholds by gate name; absent means the gate is not applied, ``"off"`` that it is
    switched off (listed as off, judging nothing: a profile can drop an inherited gate)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    test_success: Annotated[float, Field(gt=0, lt=1)] | Off | None = None
    test_slo: Annotated[float, Field(gt=0, lt=1)] | Off | None = None
    load_error_rate: Annotated[float, Field(ge=0, lt=1)] | Off | None = None
    load_p95_ms: PositiveFloat | Off | None = None
    load_p99_ms: PositiveFloat | Off | None = None
    load_min_rps: PositiveFloat | Off | None = None
    chaos_recovery_s: PositiveFloat | Off | None = None
    availability_min: Annotated[float, Field(gt=0, lt=1)] | Off | None = None
    target_rss_mb_max: PositiveFloat | Off | None = None
    # % of the machine (at most 100), or of one core (resources.cpu_basis = "core": 200 = two)
    target_cpu_pct_max: PositiveFloat | Off | None = None
    target_rss_growth_mb_per_min_max: Annotated[float, Field(ge=0)] | Off | None = None
    regression: Annotated[int, Field(ge=0)] | Off | None = None  # flagged regressions allowed
    coverage_min: Percent | Off | None = None  # percent
    # percent of the OpenAPI operations (or responses: api_coverage.basis) exercised
    api_coverage_min: Percent | Off | None = None
    # critical/high security findings; fuzzed cases with a server error, or off the document
    security_max_high: Annotated[int, Field(ge=0)] | Off | None = None
    api_server_errors_max: Annotated[int, Field(ge=0)] | Off | None = None
    api_contract_violations_max: Annotated[int, Field(ge=0)] | Off | None = None
    # gates naming one request of the mix, and gates judged during the load (config_load)
    requests: list[RequestGateSettings] = []
    abort_on_fail: list[AbortableGate] = []

    def of_load(self) -> GateSettings:
        """The gates of the ``load`` command: the load's own (``load_*``, the request gates,
        abort_on_fail), the target's use under it (``target_*``) and ``regression``."""
        return self.model_validate(
            {
                k: v
                for k, v in self.model_dump().items()
                if k.startswith(("load_", "target_"))
                or k in ("regression", "requests", "abort_on_fail")
            }
        )


class AvailabilitySettings(_Model):
    """The whole-run prober of ``gate`` (harness.prober) and the availability it measures.

    ``path`` defaults to the target's ``ready_path`` (a TCP connect without one); the
    reference API is probed on ``/api/v0/ping``. ``assumed_outage_s`` is the outage
    duration the availability bound assumes when no outage was seen (stated in the report).
    """

    enabled: bool = True
    path: str | None = None
    interval_s: Annotated[float, Field(ge=0.02, le=10)] = 0.1
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    assumed_outage_s: PositiveFloat = 30.0

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be a path starting with '/', e.g. /healthz")
        return value


class ReadinessSettings(_Model):
    """The production-readiness checklist's thresholds (harness.checklist); the defaults are
    the users' checklist. ``"off"`` drops a row from what the profile asks (it then reads
    "not measured", never a pass); ``weights`` weigh the rows in the score (default 1)."""

    uptime: Annotated[float, Field(gt=0, lt=1)] | Off = 0.99999
    error_rate: Annotated[float, Field(ge=0, lt=1)] | Off = 0.00001
    p95_ms: PositiveFloat | Off = 10.0
    recovery_s: PositiveFloat | Off = 30.0
    throughput_rps: PositiveFloat | Off = 1000.0
    memory_mb: PositiveFloat | Off = 512.0
    cpu: Annotated[float, Field(gt=0, le=1)] | Off = 0.5
    test_success: Annotated[float, Field(gt=0, lt=1)] | Off = 0.995
    coverage: Annotated[float, Field(gt=0, le=1)] | Off = 0.95
    regression: Annotated[float, Field(ge=0)] | Off = 0.0
    security: Annotated[int, Field(ge=0)] | Off = 0
    weights: dict[str, Annotated[float, Field(gt=0)]] = {}

    @field_validator("weights")
    @classmethod
    def _known_rows(cls, value: dict[str, float]) -> dict[str, float]:
        rows = [n for n in cls.model_fields if n != "weights"]
        unknown = sorted(set(value) - set(rows))
        if unknown:
            raise ValueError(f"unknown row(s) {', '.join(unknown)}; rows: {', '.join(rows)}")
        return value

    def threshold(self, key: str) -> float | str | None:
        value: float | str | None = getattr(self, key)
        return value

    def weight(self, key: str) -> float:
        return self.weights.get(key, 1.0)


class PrometheusQueries(_Model):
    """An SLO's own Prometheus series for the export (harness.slo_export): ``total`` (every
    event), ``bad`` (request_success: failed events) or ``good`` (latency_under: the
    histogram bucket at the threshold); absent: the reference API's metrics."""

    total: str | None = None
    bad: str | None = None
    good: str | None = None


class SloSettings(_Model):
    """One service-level objective, as data (harness.slo).

    ``indicator``: ``request_success`` (load requests that did not fail), ``latency_under``
    (load requests answered within ``threshold_ms``) or ``availability`` (the whole-run
    prober's time available). ``objective`` in (0, 1); ``window_days`` the compliance window
    of the error-budget arithmetic; ``max_burn_rate`` makes it a gate (fails when the burn
    rate's lower bound exceeds it; absent: reported only).
    """

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    indicator: Literal["request_success", "latency_under", "availability"]
    objective: Annotated[float, Field(gt=0, lt=1)]
    threshold_ms: PositiveFloat | None = None
    window_days: Annotated[float, Field(gt=0, le=366)] = 28.0
    max_burn_rate: PositiveFloat | None = None
    description: str = ""
    prometheus: PrometheusQueries | None = None

    @model_validator(mode="after")
    def _threshold(self) -> SloSettings:
        if self.indicator == "latency_under" and self.threshold_ms is None:
            raise ValueError("indicator latency_under needs threshold_ms (e.g. 50)")
        if self.indicator != "latency_under" and self.threshold_ms is not None:
            raise ValueError(f"threshold_ms applies to latency_under only, not {self.indicator}")
        return self


class Profile(_Model):
    """One named profile: everything a gate run needs."""

    description: str = ""
    target: TargetSettings = TargetSettings()
    tests: TestSettings = TestSettings()
    load: LoadSettings = LoadSettings()
    chaos: ChaosSettings = ChaosSettings()
    gates: GateSettings = GateSettings()
    availability: AvailabilitySettings = AvailabilitySettings()
    resources: ResourceSettings = ResourceSettings()
    regression: RegressionSettings = RegressionSettings()
    coverage: CoverageSettings = CoverageSettings()
    api_coverage: ApiCoverageSettings = ApiCoverageSettings()
    security: SecuritySettings = SecuritySettings()
    fuzz: FuzzSettings = FuzzSettings()
    readiness: ReadinessSettings = ReadinessSettings()
    slos: list[SloSettings] = []

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, value: list[SloSettings]) -> list[SloSettings]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"SLO name(s) given twice: {', '.join(twice)}")
        return value


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    """The active profile after layering, and where its values came from."""

    profile_name: str
    profile: Profile
    source: str  # the file that was read, or "embedded defaults"
    profiles: tuple[str, ...]
    # dotted field -> where its value was set ("--set tests.paths=...", the file's table
    # and key, an environment variable); a field absent here has the embedded default
    origins: Mapping[str, str] = field(default_factory=dict)

    def origin(self, key: str) -> str:
        """Where the active profile's ``key`` (dotted, e.g. ``tests.paths``) was set."""
        return self.origins.get(key, "embedded defaults")

    def explicit(self, key: str) -> bool:
        """True when ``key`` was set by the user, not left at the embedded default."""
        return key in self.origins


# the fields that name files or directories: a config file's relative value is relative to
# the file's own directory (as the user wrote it there), never to the working directory
PATH_FIELDS: tuple[tuple[str, str], ...] = (
    ("tests", "paths"),
    ("chaos", "directory"),
    ("load", "load_file"),
    ("load", "locustfile"),
    ("coverage", "report_file"),
    ("coverage", "report_files"),
    ("api_coverage", "openapi_file"),
    ("security", "paths"), ("security", "code_reports"), ("security", "dependency_reports"),
    ("security", "requirements"), ("fuzz", "openapi_file"), ("fuzz", "config_file"),
)  # fmt: skip


def _resolve_file_paths(data: dict[str, Any], written: Mapping[str, Any], base: Path) -> None:
    """Make the path fields ``written`` in a config file absolute against ``base``."""
    for section, key in PATH_FIELDS:
        table = written.get(section)
        if not isinstance(table, Mapping) or key not in table:
            continue
        value = data.get(section, {}).get(key)
        if isinstance(value, str):
            data[section][key] = str(base / value) if not Path(value).is_absolute() else value
        elif isinstance(value, list):
            data[section][key] = [
                str(base / v) if isinstance(v, str) and not Path(v).is_absolute() else v
                for v in value
            ]
        elif isinstance(value, dict):
            data[section][key] = {
                k: str(base / v) if isinstance(v, str) and not Path(v).is_absolute() else v
                for k, v in value.items()
            }


def _embedded_defaults() -> dict[str, Any]:
    text = resources.files("harness").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# a config nests five deep (profiles.ci.coverage.categories.api); copying far more recurses
_MAX_DEPTH = 32


def _read_file(path: Path, *, found: bool = False) -> dict[str, Any] | None:
    """The file's settings; None for a pyproject.toml ``found`` here that is not ours."""
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        if found:
            return None
        why = "arrays or inline tables nested too deep" if isinstance(exc, RecursionError) else exc
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {why}") from None
    table: Any = data
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        table = tool.get("reliability") if isinstance(tool, dict) else None
        if table is None and found:
            return None
        if table is None:
            raise ConfigError(f"{path}: has no [tool.reliability] table")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.reliability] must be a table, not {table!r}")
    deep = too_deep(table, _MAX_DEPTH)
    if deep:
        raise ConfigError(f"{path}: {deep} is nested in more than {_MAX_DEPTH} tables or arrays")
    return dict(table)


def _find_file(explicit: str | None, cwd: Path) -> tuple[Path | None, dict[str, Any]]:
    if explicit:
        return Path(explicit), _read_file(Path(explicit)) or {}
    for path in (cwd / "reliability.toml", cwd / "pyproject.toml"):
        data = _read_file(path, found=path.name == "pyproject.toml") if path.is_file() else None
        if data is not None:
            return path, data
    return None, {}


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _coerce_scalar(text: str) -> Any:
    """Read an override value the way TOML would, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str, where: str = "--set") -> tuple[list[str], Any]:
    """``'gates.load_p95_ms=5'`` -> ``(['gates', 'load_p95_ms'], 5.0)``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"invalid override {item!r} from {where}: expected dotted.key=value, "
            "e.g. gates.load_p95_ms=5"
        )
    return key.split("."), _coerce_scalar(raw.strip())


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    node = target
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _env_overrides(environ: Mapping[str, str]) -> list[tuple[str, list[str], Any]]:
    found = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
            found.append((f"environment variable {name}", keys, _coerce_scalar(environ[name])))
    return found


def _describe_allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The valid field names at ``loc`` (for 'extra fields not permitted' errors)."""
    names = allowed_fields(model, loc)
    return f"; valid fields: {', '.join(names)}" if names else ""


# pydantic names the member of a union it tried after the field ("constrained-float",
# "literal['off']"): not a field the user wrote
_UNION_MEMBER = re.compile(r"^(constrained-|literal\[|function-|float$|int$|str$|bool$)")


def _where(loc: tuple[str, ...], origins: Mapping[tuple[str, ...], str], default: str) -> str:
    """Where the value at ``loc`` was set: an item of a list (tests.paths.1) where its list
    was; a table nobody may set (profiles) where something inside it was."""
    for i in range(len(loc), 0, -1):
        if loc[:i] in origins:
            return origins[loc[:i]]
    return next((w for keys, w in origins.items() if keys[: len(loc)] == loc), default)


def _validate_profile(
    name: str,
    data: Mapping[str, Any],
    origins: Mapping[tuple[str, ...], str],
    source: str,
) -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        # one problem per field: the members of a union ("a number > 0, or 'off'") together
        grouped: dict[tuple[str, ...], tuple[Any, list[str]]] = {}
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            while loc and _UNION_MEMBER.match(loc[-1]):
                loc = loc[:-1]
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field" + _describe_allowed(Profile, loc)
            value, messages = grouped.setdefault(loc, (error.get("input"), []))
            if message not in messages:
                messages.append(message)
        problems = []
        for loc, (value, messages) in grouped.items():
            where = _where(loc, origins, f"{source} [profiles.{name}]")
            said = " or ".join(
                m if i == 0 else m.removeprefix("Input should be ") for i, m in enumerate(messages)
            )
            problems.append(f"invalid value {value!r} for {'.'.join(loc)} from {where}: {said}")
        raise ConfigError("\n".join(problems)) from None


def load_config(
    *,
    profile: str | None = None,
    config_file: str | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ResolvedConfig:
    """Resolve the active profile from every source, validated completely."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    defaults = _embedded_defaults()
    path, file_data = _find_file(config_file, cwd)
    source = str(path) if path is not None else "embedded defaults"
    # the tables as the user wrote them: [tool.reliability.profiles...] in pyproject.toml
    table = (
        "tool.reliability.profiles"
        if path is not None and path.name == "pyproject.toml"
        else "profiles"
    )

    unknown_top = set(file_data) - {"default_profile", "profiles"}
    if unknown_top:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(unknown_top))}; "
            "valid: default_profile, profiles"
        )
    file_profiles = file_data.get("profiles", {})
    if not isinstance(file_profiles, dict):
        raise ConfigError(f"{source}: 'profiles' must be a table of named profiles")

    profiles = _deep_merge(defaults["profiles"], file_profiles)
    if not isinstance(chosen := file_data.get("default_profile", ""), str):
        raise ConfigError(
            f"invalid value {chosen!r} for default_profile from {source}: must be a profile name"
        )
    name = profile or chosen or defaults["default_profile"]
    if name not in profiles:
        raise ConfigError(
            f"unknown profile {name!r} (from {'--profile' if profile else source}); "
            f"valid profiles: {', '.join(sorted(profiles))}"
        )
    if not isinstance(data := copy.deepcopy(profiles[name]), dict):
        raise ConfigError(f"invalid value {data!r} for {table}.{name} from {source}: not a table")
    origins: dict[tuple[str, ...], str] = {}

    def record(keys: list[str], where: str) -> None:
        origins[tuple(keys)] = where

    def walk(prefix: tuple[str, ...], node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, Mapping):
                walk((*prefix, key), value)
            else:
                origins[(*prefix, key)] = f"{source} [{table}.{name}.{'.'.join(prefix)}] {key}"

    if isinstance(file_profiles.get(name), Mapping):
        walk((), file_profiles[name])
        if path is not None:
            _resolve_file_paths(data, file_profiles[name], path.resolve().parent)

    for where, keys, value in _env_overrides(environ):
        _set_path(data, keys, value)
        record(keys, where)
    for item in overrides:
        keys, value = parse_override(item)
        _set_path(data, keys, value)
        record(keys, f"--set {item}")

    validated = _validate_profile(name, data, origins, source)
    return ResolvedConfig(
        profile_name=name,
        profile=validated,
        source=source,
        profiles=tuple(sorted(profiles)),
        origins={".".join(keys): where for keys, where in origins.items()},
    )
