"""The config sections of what the harness measures beside the phases: the target's
resources, the comparison with a baseline, and code coverage (:mod:`harness.config` holds
them in each profile)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ApiCoverageSettings",
    "CoverageSettings",
    "FuzzSettings",
    "Percent",
    "RegressionSettings",
    "ResourceSettings",
    "SecuritySettings",
]


def _percent(value: float) -> float:
    if not 1 <= value <= 100:
        slip = f"; {value:g} reads as {value:g}%, write {value * 100:g}" if 0 < value < 1 else ""
        raise ValueError(f"must be a percentage from 1 to 100 (90 means 90%){slip}")
    return value


# a coverage threshold, in percent: 0.9 is refused (it would be 0.9%, not 90%)
Percent = Annotated[float, AfterValidator(_percent)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class CoverageSettings(_Model):
    """Code coverage of the target (harness.code_coverage, harness.phases.coverage_phase).

    The reference API is measured: after the tests phase, each category's tests run once
    against a reference API under coverage.py (branch coverage, ``--context`` the
    category), and the data are combined. Any other target names the report its own
    tooling writes: ``report_file`` (coverage.py JSON, Cobertura XML or LCOV), or one per
    category in ``report_files``. A category is a marker expression; ``category_min`` is
    the gate ``coverage_<category>_min`` of each (default: ``gates.coverage_min``)."""

    enabled: bool = False
    basis: Literal["lines", "branches"] = "lines"
    categories: dict[str, str] = {"unit": "unit", "integration": "integration", "api": "api"}
    # "off": the per-category gates are listed as off (the overall coverage_min stays)
    category_min: Percent | Literal["off"] | None = None
    # measured: the tests one at a time, the target's lines recorded per test (a context
    # each); false: in parallel (tests.workers), recorded per category only
    per_test: bool = True
    source: list[str] = ["target_api"]
    report_file: str | None = None
    report_files: dict[str, str] = {}

    @field_validator("categories")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(n for n in value if not n.replace("_", "").replace("-", "").isalnum())
        if bad:
            raise ValueError(
                f"category name(s) {', '.join(map(repr, bad))}: letters, digits, _ or -"
            )
        return value


class ApiCoverageSettings(_Model):
    """API coverage of the target (harness.api_coverage, harness.phases.api_coverage_phase):
    during the tests phase the tests reach the target through a recording HTTP hop, and the
    traffic is matched to the OpenAPI document: ``openapi_file`` when given, else the
    document the target serves at ``openapi_path``. ``basis``: what ``api_coverage_min``
    counts, the operations exercised or the documented responses exercised."""

    enabled: bool = False
    basis: Literal["operations", "responses"] = "operations"
    openapi_path: str = "/openapi.json"
    openapi_file: str | None = None

    @field_validator("openapi_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path on the target starting with '/', e.g. /openapi.json")
        return value


class RegressionSettings(_Model):
    """Comparing a run with its baseline (harness.baseline): a change is flagged only when it
    is significant and larger than its minimum effect. ``require_baseline``: with no
    baseline the ``regression`` gate is insufficient instead of deciding nothing."""

    require_baseline: bool = False
    latency_min_effect_ms: Annotated[float, Field(ge=0)] = 1.0
    throughput_min_effect_pct: Annotated[float, Field(ge=0, le=100)] = 5.0
    pass_rate_min_effect: Annotated[float, Field(ge=0, le=1)] = 0.01
    recovery_min_effect_s: Annotated[float, Field(ge=0)] = 1.0

    def min_effects(self) -> dict[str, float]:
        return self.model_dump(exclude={"require_baseline"})


class ResourceSettings(_Model):
    """Sampling the target's memory and CPU (harness.resource_sampler) through every phase.

    The reference API, and a target given ``--target-pid``, are sampled with psutil (the
    process and all its children); another target through the Prometheus process metrics
    on ``metrics_path`` (``process_resident_memory_bytes``, ``process_cpu_seconds_total``),
    when it serves them. ``cpu_basis`` says what a CPU percentage is of: the whole machine
    (``machine``, as a host dashboard shows it) or one core (``core``, as ``top`` does).
    """

    enabled: bool = True
    interval_s: Annotated[float, Field(ge=0.05, le=60)] = 0.5
    cpu_basis: Literal["machine", "core"] = "machine"
    metrics_path: str | None = "/metrics"

    @field_validator("metrics_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value == "":  # "": no metrics are read (TOML has no null)
            return None
        if value is not None and not value.startswith("/"):
            raise ValueError("must be a path starting with '/', e.g. /metrics")
        return value


class SecuritySettings(_Model):
    """The security scan of the target (harness.security, harness.phases.security_phase):
    its code with bandit (``paths``; the reference API's own source when empty and the
    harness started it) and the SARIF of any other analyser (``code_reports``); its
    dependencies from a scanner's report (``dependency_reports``: pip-audit JSON,
    OSV-Scanner JSON or SARIF) or pip-audit run live (``pip_audit``, over ``requirements``;
    it needs a vulnerability service that answers). ``dependencies = "off"`` judges the
    code alone, and says so; otherwise dependencies without data leave the gate
    insufficient. bandit's findings below ``min_confidence`` are listed, not counted."""

    enabled: bool = False
    bandit: bool = True
    paths: list[str] = []
    min_confidence: Literal["low", "medium", "high"] = "medium"
    code_reports: list[str] = []
    dependency_reports: list[str] = []
    pip_audit: bool = False
    requirements: str | None = None
    dependencies: Literal["required", "off"] = "required"


# schemathesis 4's checks (``schemathesis run --checks``)
FUZZ_CHECKS = (
    "all", "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "positive_data_acceptance", "missing_required_header", "unsupported_method",
    "allow_header_conformance", "use_after_free", "ensure_resource_availability",
    "ignored_auth", "object_level_authorization",
)  # fmt: skip


class FuzzSettings(_Model):
    """API fuzzing of the target (harness.fuzz, harness.phases.fuzz_phase): schemathesis
    run against its OpenAPI document (``openapi_file``, else the one it serves at
    ``openapi_path``), every operation, every check, ``max_examples`` per operation and
    phase (with ``max_time_s``, fuzzing repeats until that is spent), stopped at
    ``timeout_s`` whatever happens, seeded (the same seed replays the same cases).
    ``headers``: sent with every request, beside the target's bearer token."""

    enabled: bool = False
    openapi_path: str = "/openapi.json"
    openapi_file: str | None = None
    max_examples: Annotated[int, Field(ge=1, le=10_000)] = 20
    # set: fuzzing repeats until this is spent (schemathesis --max-time); unset: one pass
    max_time_s: Annotated[float, Field(ge=1, le=3600)] | None = None
    timeout_s: Annotated[float, Field(ge=10, le=7200)] = 600.0  # the process is stopped then
    seed: Annotated[int, Field(ge=0)] = 0
    checks: Annotated[list[str], Field(min_length=1)] = ["all"]
    exclude_checks: list[str] = []
    phases: Annotated[
        list[Literal["examples", "coverage", "fuzzing", "stateful"]], Field(min_length=1)
    ] = [
        "examples",
        "coverage",
        "fuzzing",
    ]
    headers: dict[str, str] = {}
    # schemathesis's own config (its checks' expected statuses, per operation); the
    # reference API's, target_api/schemathesis.toml, when unset and the harness started it
    config_file: str | None = None

    @field_validator("checks", "exclude_checks")
    @classmethod
    def _checks(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c not in FUZZ_CHECKS]
        if bad:
            raise ValueError(
                f"unknown check(s) {', '.join(map(repr, bad))}: one of {', '.join(FUZZ_CHECKS)}"
            )
        return value

    @field_validator("openapi_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path on the target starting with '/', e.g. /openapi.json")
        return value
