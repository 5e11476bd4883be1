"""The SLOs of a run and of `slo export`: each SLO judged on the run's load and
availability (its gate), and the files production watches (OpenSLO, Prometheus rules)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import ResolvedConfig
from harness.errors import ConfigError, UsageError
from harness.session import RunContext

if TYPE_CHECKING:
    from harness import gates as gate_logic
    from harness.availability import Availability
    from harness.config import SloSettings
    from harness.target import Target

__all__ = ["cmd_slo_export", "service_name", "slo_gates_of_run", "write_slo_files"]


def slo_gates_of_run(
    ctx: RunContext,
    config: ResolvedConfig,
    availability: Availability | None,
    off: dict[str, str],
) -> tuple[gate_logic.GateResult, ...]:
    """The profile's SLOs on this run's load and availability: recorded, and their gates."""
    from harness.slo import evaluate_slos, slo_gates

    slos = config.profile.slos
    if not slos:
        return ()
    load = ctx.state.outcome.load
    results = evaluate_slos(slos, load.result if load else None, availability)
    ctx.state.record(slos=results)
    for r in results:
        ctx.say(
            f"slo {r.name}: SLI {r.sli:.6g} for objective {r.objective:g}, burn rate "
            f"{r.burn:.3g} (bounds {r.burn_low:.3g}-{r.burn_high:.3g}), "
            f"{r.budget_share:.3g} of its {r.window_days:g}-day budget consumed"
        )
    return slo_gates(slos, results, off)


def service_name(config: ResolvedConfig, target: Target | None) -> str:
    if config.profile.target.name:
        return config.profile.target.name
    return "moonbase" if target is None or target.managed else target.url


def write_slo_files(slos: Sequence[SloSettings], service: str, out: Path) -> list[Path]:
    """``openslo.yaml`` and ``prometheus-rules.yaml`` for ``slos`` in ``out``."""
    from harness.report.files import atomic_write
    from harness.slo_export import openslo_yaml, prometheus_rules_yaml

    paths = [out / "openslo.yaml", out / "prometheus-rules.yaml"]
    atomic_write(paths[0], openslo_yaml(slos, service))
    atomic_write(paths[1], prometheus_rules_yaml(slos))
    return paths


def cmd_slo_export(args: argparse.Namespace, config: ResolvedConfig) -> int:
    """``slo export``: the profile's SLOs as files, from the config alone (no run)."""
    slos = config.profile.slos
    if not slos:
        raise ConfigError(
            f"profile {config.profile_name!r} (from {config.source}) has no SLOs; add "
            "[[profiles.NAME.slos]] (see the README)"
        )
    service = args.service or service_name(config, None)
    try:
        paths = write_slo_files(slos, service, Path(args.out))
    except OSError as exc:
        raise UsageError(f"--out {args.out!r}: {exc.strerror or exc}") from None
    for path in paths:
        print(path)
    return 0
