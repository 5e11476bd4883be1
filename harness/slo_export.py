"""The profile's SLOs for production to watch: OpenSLO v1 and Prometheus rules. Pure.

What the gate tested, production can alert on. Per SLO:

- ``openslo.yaml``: an OpenSLO v1 ``SLO`` (ratio indicator on Prometheus queries, the
  objective as its target, the compliance window as a rolling time window);
- ``prometheus-rules.yaml``: recording rules for the error ratio over 5m, 30m, 1h, 6h, 1d
  and 3d (``slo:error_ratio:rate<window>{slo="<name>"}``), and the SRE workbook's
  multiwindow, multi-burn-rate alerts: page when both 1h and 5m burn faster than 14.4, or
  6h and 30m faster than 6; ticket when 3d and 6h burn faster than 1.

The queries default to the reference API's own metrics (``moonbase_http_requests_total``,
``moonbase_http_request_duration_seconds``) and the blackbox exporter's ``probe_success``;
an SLO's ``prometheus`` table names a service's own (``total``, ``bad`` or ``good``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from harness.config import SloSettings

__all__ = ["ALERTS", "WINDOWS", "openslo_yaml", "prometheus_rules_yaml", "queries"]

WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "1d", "3d")
# (burn rate, long window, short window, severity): the SRE workbook's table
ALERTS: tuple[tuple[float, str, str, str], ...] = (
    (14.4, "1h", "5m", "page"),
    (6.0, "6h", "30m", "page"),
    (1.0, "3d", "6h", "ticket"),
)


def _seconds(threshold_ms: float) -> str:
    return f"{threshold_ms / 1000:g}"


def queries(slo: SloSettings) -> tuple[str, str]:
    """``(good-or-bad selector, total selector)`` of the SLO's Prometheus series."""
    given = slo.prometheus
    if slo.indicator == "request_success":
        bad = 'moonbase_http_requests_total{status=~"5.."}'
        total = "moonbase_http_requests_total"
        return (given.bad or bad, given.total or total) if given else (bad, total)
    if slo.indicator == "latency_under":
        assert slo.threshold_ms is not None
        good = f'moonbase_http_request_duration_seconds_bucket{{le="{_seconds(slo.threshold_ms)}"}}'
        total = "moonbase_http_request_duration_seconds_count"
        return (given.good or good, given.total or total) if given else (good, total)
    series = (given.total if given else None) or "probe_success"
    return series, series


def _error_ratio(slo: SloSettings, window: str) -> str:
    first, total = queries(slo)
    if slo.indicator == "request_success":
        return f"sum(rate({first}[{window}])) / sum(rate({total}[{window}]))"
    if slo.indicator == "latency_under":
        return f"1 - sum(rate({first}[{window}])) / sum(rate({total}[{window}]))"
    return f"1 - avg(avg_over_time({first}[{window}]))"


def _rules(slo: SloSettings) -> dict[str, Any]:
    budget = 1.0 - slo.objective
    records: list[dict[str, Any]] = [
        {
            "record": f"slo:error_ratio:rate{w}",
            "expr": _error_ratio(slo, w),
            "labels": {"slo": slo.name},
        }
        for w in WINDOWS
    ]
    alerts: list[dict[str, Any]] = []
    for burn, long_w, short_w, severity in ALERTS:
        limit = f"{burn * budget:.10g}"
        alerts.append(
            {
                "alert": f"SLOBurnRate{burn:g}x".replace(".", "_"),
                "expr": (
                    f'slo:error_ratio:rate{long_w}{{slo="{slo.name}"}} > {limit} and '
                    f'slo:error_ratio:rate{short_w}{{slo="{slo.name}"}} > {limit}'
                ),
                "for": "2m" if severity == "page" else "15m",
                "labels": {"severity": severity, "slo": slo.name},
                "annotations": {
                    "summary": (
                        f"{slo.name}: error budget burning at more than {burn:g}x over "
                        f"{long_w} and {short_w} (objective {slo.objective:g})"
                    ),
                },
            }
        )
    return {"name": f"slo-{slo.name}", "rules": [*records, *alerts]}


def prometheus_rules_yaml(slos: Sequence[SloSettings]) -> str:
    """A Prometheus rule file with every SLO's recording and alerting rules."""
    return yaml.safe_dump({"groups": [_rules(s) for s in slos]}, sort_keys=False, width=200)


def _openslo(slo: SloSettings, service: str) -> dict[str, Any]:
    first, total = queries(slo)
    if slo.indicator == "availability":
        ratio: dict[str, Any] = {
            "good": {"metricSource": {"type": "Prometheus", "spec": {"query": f"sum({first})"}}},
            "total": {"metricSource": {"type": "Prometheus", "spec": {"query": f"count({total})"}}},
        }
    else:
        key = "bad" if slo.indicator == "request_success" else "good"
        ratio = {
            key: {"metricSource": {"type": "Prometheus", "spec": {"query": f"sum({first})"}}},
            "total": {"metricSource": {"type": "Prometheus", "spec": {"query": f"sum({total})"}}},
        }
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": slo.name, "displayName": slo.description or slo.name},
        "spec": {
            "service": service,
            "description": slo.description or f"{slo.indicator} of {service}",
            "indicator": {
                "metadata": {"name": f"{slo.name}-sli"},
                "spec": {"ratioMetric": {"counter": slo.indicator != "availability", **ratio}},
            },
            "timeWindow": [{"duration": f"{slo.window_days:g}d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": slo.name, "target": slo.objective}],
        },
    }


def openslo_yaml(slos: Sequence[SloSettings], service: str) -> str:
    """Every SLO as an OpenSLO v1 document, in one multi-document YAML file."""
    return yaml.safe_dump_all([_openslo(s, service) for s in slos], sort_keys=False, width=200)
