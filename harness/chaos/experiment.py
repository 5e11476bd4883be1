"""Chaos experiments as data: TOML files validated completely before any traffic is sent.

An experiment file (``scenarios/chaos/NAME.toml``)::

    title = "100 ms of latency in front of the API"

    [steady_state]            # the hypothesis: what "healthy" means, probed before and after
    path = "/api/v0/ping"
    expect_status = [200]
    max_latency_ms = 50.0     # a probe slower than this deviates from steady state
    samples = 20

    [[method]]                # the faults, applied together on the named link
    link = "api"              # the proxy the harness puts in front of the API
    type = "latency"          # any Toxiproxy toxic type
    stream = "downstream"
    attributes = { latency = 100 }
    duration_s = 3.0

    [expect]
    min_effect_ms = 95.0      # latency faults: probes must slow by at least this much
    max_recovery_s = 10.0     # after the fault is removed
    max_error_rate = 1.0      # of load requests while the fault is on ([load] enabled)

    [load]                    # optional: Locust against the probed URL for the whole window
    enabled = true
    rate_rps = 50.0
    users = 10

Besides toxics (``kind = "toxic"``, the default), a method entry can be a process fault on
the reference API (``kind = "process"``): ``type = "kill"`` with a ``signal`` (default
SIGKILL; the supervisor restarts the API) or ``type = "pause"`` (SIGSTOP for ``duration_s``,
then SIGCONT), or ``type = "kill_container"``: the experiment creates a pod (the ``[pod]``
table: ``command``, ``restart_policy``), kills its container from outside the API with
``signal`` (default SIGKILL) and probes the pod until the JobDirector has restarted it.
``link = "database"`` puts the proxy between a dedicated reference API and
PostgreSQL (MOONBASE_DATABASE_URL). One experiment acts on one link, and a process fault
is the only entry of its method.

Every problem is reported with the file and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import ScenarioError
from harness.faults.spec import (
    FAULT_KINDS,
    KILL_SIGNALS,
    LINKS,
    POD_RESTART_POLICIES,
    PROCESS_FAULTS,
    TOXIC_ATTRIBUTES,
    FaultSpec,
    PodSpec,
)
from harness.validation import allowed_fields, too_deep

__all__ = [
    "FAULT_KINDS",
    "KILL_SIGNALS",
    "LINKS",
    "POD_RESTART_POLICIES",
    "PROCESS_FAULTS",
    "TOXIC_ATTRIBUTES",
    "Experiment",
    "FaultSpec",
    "PodSpec",
    "find_experiments",
    "load_experiment",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SteadyState(_Model):
    path: str = "/api/v0/ping"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = [200]
    max_latency_ms: Annotated[float, Field(gt=0)] = 50.0
    samples: Annotated[int, Field(ge=3, le=10_000)] = 20
    probe_interval_s: Annotated[float, Field(gt=0, le=10)] = 0.05
    probe_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    recovered_after: Annotated[int, Field(ge=1, le=1000)] = 3  # consecutive healthy probes
    # the hypothesis tolerance: every probe must answer with an expected status, and this
    # share of them within max_latency_ms (a busy CI machine has the odd slow probe)
    min_healthy_fraction: Annotated[float, Field(gt=0, le=1)] = 0.9


class Expectations(_Model):
    min_effect_ms: Annotated[float, Field(ge=0)] | None = None
    max_recovery_s: Annotated[float, Field(gt=0)] = 30.0
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 1.0


class LoadDuringFault(_Model):
    enabled: bool = False
    rate_rps: Annotated[float, Field(gt=0)] = 200.0
    users: Annotated[int, Field(ge=1, le=1000)] = 5


class Experiment(_Model):
    name: str = ""
    title: str
    description: str = ""
    steady_state: SteadyState = SteadyState()
    method: Annotated[list[FaultSpec], Field(min_length=1)]
    expect: Expectations = Expectations()
    load: LoadDuringFault = LoadDuringFault()
    pod: PodSpec | None = None  # kill_container only; its defaults when the table is absent
    source: str = ""

    @model_validator(mode="after")
    def _one_link(self) -> Experiment:
        links = sorted({f.link for f in self.method})
        if len(links) > 1:
            raise ValueError(
                f"method mixes links {', '.join(links)}: one experiment acts on one link"
            )
        if any(f.kind == "process" for f in self.method) and len(self.method) > 1:
            raise ValueError("a process fault must be the only entry of its method")
        kills_container = self.method[0].type == "kill_container" and len(self.method) == 1
        if self.pod is not None and not kills_container:
            raise ValueError('[pod] applies to kind = "process", type = "kill_container" only')
        if kills_container and "path" in self.steady_state.model_fields_set:
            raise ValueError(
                "kill_container probes the pod it creates (GET /api/v0/pods/{id}): "
                "remove steady_state.path"
            )
        return self

    @property
    def link(self) -> str:
        """The link every fault of the method acts on."""
        return self.method[0].link

    @property
    def pod_spec(self) -> PodSpec | None:
        """The pod a ``kill_container`` experiment creates (defaults when ``[pod]`` is absent)."""
        if self.method[0].type != "kill_container":
            return None
        return self.pod or PodSpec()

    @property
    def process_fault(self) -> FaultSpec | None:
        """The method's process fault, when it is one."""
        first = self.method[0]
        return first if first.kind == "process" else None


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# an experiment nests three deep (method[0].attributes); quoting far deeper values in a
# message would exhaust the interpreter's recursion limit
_MAX_DEPTH = 64


def load_experiment(path: Path) -> Experiment:
    """Parse and validate one experiment file; ScenarioError lists every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"experiment file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ScenarioError(
            f"experiment file {str(path)!r} cannot be read: {exc.strerror}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = "arrays or inline tables nested too deep" if isinstance(exc, RecursionError) else exc
        raise ScenarioError(f"{path}: not valid TOML: {why}") from None
    if deep := too_deep(data, _MAX_DEPTH):
        raise ScenarioError(
            f"{path}: field {deep} is nested in more than {_MAX_DEPTH} tables or arrays"
        )
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = _field_name(error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                valid = allowed_fields(Experiment, tuple(error["loc"]))
                message = "unknown field" + (f"; valid fields: {', '.join(valid)}" if valid else "")
            problems.append(f"{path}: field {field}: {message} (got {error.get('input')!r})")
        raise ScenarioError("\n".join(problems)) from None


def find_experiments(directory: Path, names: list[str], *, where: str) -> list[Experiment]:
    """Load the named experiments (all when ``names`` is empty), validating every one first.

    A name is an experiment file's stem in ``directory``, or the path of a TOML file.
    """
    available = {p.stem: p for p in sorted(directory.glob("*.toml"))} if directory.is_dir() else {}
    for name in names:
        if name.endswith(".toml") or "/" in name:
            path = Path(name)
            if not path.is_file():
                raise ScenarioError(f"experiment file {name!r} from {where} does not exist")
            available[name] = path
    wanted = names or sorted(available)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise ScenarioError(
            f"unknown experiment(s) {', '.join(missing)} from {where}; "
            f"found in {directory}: {', '.join(sorted(available)) or 'none'}"
            " (or give the path of a TOML file)"
        )
    problems: list[str] = []
    experiments = []
    for name in wanted:
        try:
            experiments.append(load_experiment(available[name]))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(problems))
    return experiments
