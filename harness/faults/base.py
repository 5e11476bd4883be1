"""What every fault kind is: how it is prepared around an experiment, and how it goes on and
comes off. A registry by name, checked when a kind registers (as Toxiproxy's
``toxics.Register``), so a broken kind fails at import, not in the middle of a run.

A kind's ``prepare`` sets up what its fault acts on (a proxy in front of the target, a
dedicated API behind a proxied database, the supervised API, a pod) and yields where to
probe and the :class:`Injector`; leaving the context takes it all down again, also after
an error, and adds what could not be undone to ``FaultContext.errors``.
"""

from __future__ import annotations

import inspect
import signal
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.faults.spec import FaultSpec, PodSpec

if TYPE_CHECKING:
    from harness.faults.pod import PodUnderTest
    from harness.faults.supervisor import Supervisor
    from harness.target import ReferenceTarget
    from harness.toxiproxy.provision import ToxiproxyServer

__all__ = [
    "FaultContext",
    "FaultKind",
    "Injector",
    "Prepared",
    "SignalTarget",
    "register",
    "registered",
]


class Injector(Protocol):
    """A fault that can be put on and taken off, once per injection.

    ``remove`` is always called (rollback), also after an error. A fault is
    ``instantaneous`` when it has no duration of its own (a kill): the executor then
    treats the injection time as the removal time and probes until the service answers."""

    @property
    def instantaneous(self) -> bool: ...

    @property
    def duration_s(self) -> float: ...

    def inject(self) -> None: ...

    def remove(self) -> None: ...


class SignalTarget(Protocol):
    """A process the harness owns and may signal (``ReferenceTarget``)."""

    @property
    def pid(self) -> int: ...

    def send_signal(self, sig: signal.Signals) -> None: ...


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What a kind may need to prepare one experiment's fault."""

    name: str  # the experiment's
    source: str  # its file, for messages
    method: tuple[FaultSpec, ...]
    pod: PodSpec | None
    target_url: str
    server: ToxiproxyServer
    supervisor: Supervisor[ReferenceTarget] | None = None
    database_url: str | None = None
    workdir: Path | None = None
    errors: list[str] = field(default_factory=list)  # what could not be undone


@dataclass(frozen=True, slots=True)
class Prepared:
    """Where to probe while the fault goes on and off, and the fault itself."""

    probe_url: str
    injector: Injector
    pod: PodUnderTest | None = None


class FaultKind(Protocol):
    """One kind of fault; see the module docstring."""

    @property
    def name(self) -> str: ...

    @property
    def needs_supervised_api(self) -> bool:
        """It acts on the reference API process: the chaos phase starts one, supervised."""
        ...

    @property
    def needs_postgres(self) -> bool:
        """It acts on the reference API's PostgreSQL link (MOONBASE_DATABASE_URL)."""
        ...

    def describe(self, fault: FaultSpec, pod: PodSpec | None) -> dict[str, object]:
        """The fault as report.json lists it."""
        ...

    def prepare(self, ctx: FaultContext) -> AbstractContextManager[Prepared]: ...


_KINDS: dict[str, FaultKind] = {}


def register(kind: FaultKind) -> FaultKind:
    """Add ``kind`` under its name; refuses a duplicate or a malformed kind at once."""
    if not kind.name or kind.name in _KINDS:
        raise TypeError(f"fault kind {kind.name!r} is empty or registered already")
    for flag in ("needs_supervised_api", "needs_postgres"):
        if not isinstance(getattr(kind, flag, None), bool):
            raise TypeError(f"fault kind {kind.name!r}: {flag} must be a bool")
    for method, params in (("prepare", ("ctx",)), ("describe", ("fault", "pod"))):
        found = getattr(kind, method, None)
        if not callable(found):
            raise TypeError(f"fault kind {kind.name!r} has no {method}()")
        try:
            inspect.signature(found).bind(*params)
        except TypeError as exc:
            raise TypeError(
                f"fault kind {kind.name!r}: {method}() must take ({', '.join(params)}): {exc}"
            ) from None
    _KINDS[kind.name] = kind
    return kind


def registered() -> dict[str, FaultKind]:
    """Every kind registered so far, by name (:mod:`harness.faults.kinds` loads the
    built-in ones)."""
    return dict(_KINDS)
