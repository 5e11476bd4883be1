"""What a fault is, as an experiment file declares it: a toxic on a link, or a signal to the
API process (kill, pause, kill_container), and the pod a container kill acts on.

Validated completely when the file is read (pydantic), each message naming the valid
values; :mod:`harness.chaos.experiment` composes these into an experiment.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FAULT_KINDS",
    "KILL_SIGNALS",
    "LINKS",
    "POD_RESTART_POLICIES",
    "PROCESS_FAULTS",
    "SIGNALLED_FAULTS",
    "TOXIC_ATTRIBUTES",
    "FaultSpec",
    "PodSpec",
]

# Toxiproxy 2.x toxics and their attributes (toxics/*.go in Shopify/toxiproxy).
TOXIC_ATTRIBUTES: dict[str, frozenset[str]] = {
    "latency": frozenset({"latency", "jitter"}),
    "bandwidth": frozenset({"rate"}),
    "slow_close": frozenset({"delay"}),
    "timeout": frozenset({"timeout"}),
    "reset_peer": frozenset({"timeout"}),
    "slicer": frozenset({"average_size", "size_variation", "delay"}),
    "limit_data": frozenset({"bytes"}),
}
LINKS = ("api", "database")
FAULT_KINDS = ("toxic", "process")
PROCESS_FAULTS = ("kill", "pause", "kill_container")
SIGNALLED_FAULTS = ("kill", "kill_container")
POD_RESTART_POLICIES = ("always", "on_failure", "never")
# Signals that end a process abruptly or by request; SIGSTOP belongs to "pause"
KILL_SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultSpec(_Model):
    kind: str = "toxic"
    link: str = "api"
    type: str
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: Annotated[float, Field(ge=0, le=1)] = 1.0
    attributes: dict[str, Annotated[int, Field(ge=0)]] = {}
    duration_s: Annotated[float, Field(gt=0, le=3600)] = 3.0
    signal: str | None = None  # process faults of type "kill" and "kill_container" only

    @model_validator(mode="after")
    def _known_fault(self) -> FaultSpec:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; valid kinds: {', '.join(FAULT_KINDS)}"
            )
        if self.link not in LINKS:
            raise ValueError(f"unknown link {self.link!r}; valid links: {', '.join(LINKS)}")
        if self.kind == "process":
            return self._check_process()
        if self.signal is not None:
            raise ValueError('signal applies to process faults only (kind = "process")')
        valid = TOXIC_ATTRIBUTES.get(self.type)
        if valid is None:
            raise ValueError(
                f"unknown toxic type {self.type!r}; "
                f"valid types: {', '.join(sorted(TOXIC_ATTRIBUTES))}"
            )
        unknown = set(self.attributes) - valid
        if unknown:
            raise ValueError(
                f"unknown attribute(s) {', '.join(sorted(unknown))} for toxic {self.type!r}; "
                f"valid attributes: {', '.join(sorted(valid))}"
            )
        return self

    def _check_process(self) -> FaultSpec:
        if self.type not in PROCESS_FAULTS:
            raise ValueError(
                f"unknown process fault type {self.type!r}; "
                f"valid types: {', '.join(PROCESS_FAULTS)}"
            )
        if self.link != "api":
            raise ValueError(
                f"process faults act on the API process: link must be 'api', not {self.link!r}"
            )
        if self.attributes:
            raise ValueError("attributes apply to toxics only, not to process faults")
        if self.type == "pause" and self.signal is not None:
            raise ValueError("pause always sends SIGSTOP then SIGCONT: remove signal")
        if (
            self.type in SIGNALLED_FAULTS
            and self.signal is not None
            and self.signal not in KILL_SIGNALS
        ):
            raise ValueError(
                f"unknown signal {self.signal!r} for {self.type}; "
                f"valid signals: {', '.join(KILL_SIGNALS)}"
            )
        return self

    @property
    def kill_signal(self) -> str:
        """The signal a kill sends (SIGKILL unless the file says otherwise)."""
        return self.signal or "SIGKILL"


class PodSpec(_Model):
    """The pod a ``kill_container`` experiment creates: one long-running container."""

    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = [
        "sleep",
        "600",
    ]
    restart_policy: Literal["always", "on_failure", "never"] = "always"
