"""The operators' files: Prometheus's configuration and alert rules (checked and unit-tested
by promtool, Debian's), each alert's runbook entry, and the Grafana dashboards built by
deploy.dashboards. Their queries run against a live Prometheus in
tests/integration/test_monitoring.py."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import dashboards, monitoring
from tests.contract.test_contract import check_generated

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool: make install-test")


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / monitoring.RULES).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=60)


def test_prometheus_config_is_generated_from_the_topology() -> None:
    check_generated(PROMETHEUS / "prometheus.yml", monitoring.render(),
           "python -m deploy.monitoring > deploy/prometheus/prometheus.yml")


@pytest.mark.parametrize("name", dashboards.DASHBOARDS)
def test_dashboard_files_are_current(name: str) -> None:
    check_generated(dashboards.FOLDER / f"{name}.json", dashboards.render(name),
           "python -m deploy.dashboards")


@needs_promtool
def test_promtool_accepts_the_config_and_the_rules() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout


@needs_promtool
def test_each_alert_fires_in_its_promtool_case_and_stays_quiet_in_another() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    cases = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for expected in case.get("alert_rule_test", []):
            (fires if expected["exp_alerts"] else quiet).add(expected["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert fires == names, "every alert needs a case where it fires"
    assert quiet == names, "every alert needs a case where it does not"


def test_each_alert_links_its_runbook_entry_and_each_entry_has_its_alert() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {heading.lower() for heading in re.findall(r"^## (\w+)$", runbooks, re.M)}
    linked = set()
    for rule in alerts():
        link = rule["annotations"]["runbook_url"]
        assert link == f"docs/runbooks.md#{rule['alert'].lower()}", rule["alert"]
        linked.add(link.rsplit("#", 1)[1])
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert " / " in rule["annotations"]["summary"], "Vietnamese / English"
    assert linked == anchors


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("name", dashboards.DASHBOARDS)
def test_every_panel_is_titled_in_vietnamese_and_english_and_queries_prometheus(
        name: str) -> None:
    dashboard = json.loads(dashboards.render(name))
    assert " / " in dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in panels(dashboard):
        vietnamese, english = panel["title"].split(" / ")
        assert vietnamese and english.isascii(), panel["title"]
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_a_malformed_panel_fails_to_build() -> None:
    with pytest.raises(ValueError, match="w must be <= 24"):
        dashboards.figure("Rộng quá / Too wide", dashboards.query("up"), width=25)
