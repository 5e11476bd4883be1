"""`slo export`: the profile's SLOs as OpenSLO and Prometheus rules, checked by Prometheus's
own promtool (its syntax, and its behaviour on synthetic series)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cli_helpers import ROOT, run_cli

from harness.plugin import require_component

pytestmark = [pytest.mark.integration]


def _promtool() -> str | None:
    local = ROOT / ".toolcache" / "bin" / "promtool"
    return str(local) if local.exists() else shutil.which("promtool")


def _export(tmp_path: Path, profile: str = "ci") -> Path:
    out = tmp_path / "slo"
    result = run_cli("slo", "export", "--profile", profile, "--out", str(out), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_export_writes_every_slo_as_openslo_and_prometheus_rules(tmp_path: Path) -> None:
    out = _export(tmp_path)
    documents = list(yaml.safe_load_all((out / "openslo.yaml").read_text()))
    assert [d["metadata"]["name"] for d in documents] == [
        "request-success", "latency-under-25ms", "availability",
    ]  # fmt: skip
    assert {d["apiVersion"] for d in documents} == {"openslo/v1"}
    assert documents[0]["spec"]["objectives"][0]["target"] == 0.999
    groups = yaml.safe_load((out / "prometheus-rules.yaml").read_text())["groups"]
    alerts = [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
    assert alerts.count("SLOBurnRate14_4x") == 3  # one per SLO
    assert {"SLOBurnRate6x", "SLOBurnRate1x"} <= set(alerts)


def test_a_profile_without_slos_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "reliability.toml"
    config.write_text('default_profile = "bare"\n[profiles.bare]\ndescription = "none"\n')
    result = run_cli("slo", "export", "--config", str(config), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "has no SLOs" in result.stderr


RULE_TEST = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # 2% of requests fail: a burn rate of 20 on a 99.9% objective
      - series: 'moonbase_http_requests_total{{status="500"}}'
        values: '0+{bad}x80'
      - series: 'moonbase_http_requests_total{{status="200"}}'
        values: '0+{good}x80'
    alert_rule_test:
      - eval_time: 70m
        alertname: SLOBurnRate14_4x
        exp_alerts: {expected}
"""


@pytest.mark.parametrize(
    ("bad", "good", "fires"),
    [(2, 98, True), (0.05, 99.95, False)],
)
def test_promtool_checks_the_rules_and_the_fast_burn_alert_fires_only_on_a_fast_burn(
    tmp_path: Path, bad: float, good: float, fires: bool
) -> None:
    promtool = _promtool()
    require_component("promtool (./moonbase setup builds it)", promtool is not None)
    assert promtool is not None
    out = _export(tmp_path)
    rules = out / "prometheus-rules.yaml"
    check = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    expected = (
        "[{exp_labels: {severity: page, slo: request-success}, exp_annotations: {summary: "
        '"request-success: error budget burning at more than 14.4x over 1h and 5m (objective '
        '0.999)"}}]'
        if fires
        else "[]"
    )
    test_file = tmp_path / "test.yaml"
    test_file.write_text(RULE_TEST.format(rules=rules.name, bad=bad, good=good, expected=expected))
    (tmp_path / rules.name).write_text(rules.read_text())
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
