"""The dashboards and alerts against a live stack: the five services on the leg's broker
and database, a real Prometheus (Debian's package) scraping them every second with the
project's rules, and reports going in. Every panel query of every dashboard, as Grafana
would send it, must parse and return data; every alert expression must parse and every rule
evaluate without error; promtool accepts the configuration the test wrote.

On one leg (kafka:sqlite): the metrics do not depend on the broker or the database."""

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deploy import dashboards
from tests.contract.test_operations import alerts
from tests.prometheus import PrometheusServer
from tests.receivers import SmtpServer
from tests.rig import ServiceProcess, on_legs, open_campaign, until

pytestmark = on_legs("kafka:sqlite", why="the live monitoring test runs on one leg: "
                     "kafka:sqlite")

RATE_WINDOW = "30s"  # what Grafana's $__rate_interval stands for in this test




class Live:
    def __init__(self, services: dict[str, ServiceProcess], prometheus: PrometheusServer,
                 campaign: str) -> None:
        self.services, self.prometheus, self.campaign = services, prometheus, campaign
        self._leader: str | None = None

    def panel_queries(self) -> Iterator[tuple[str, str, str]]:
        """(dashboard, panel title, PromQL) of every panel, its variables filled in."""
        for name in dashboards.DASHBOARDS:
            model = json.loads((dashboards.FOLDER / f"{name}.json").read_text())
            for panel in model["panels"]:
                for target in panel.get("targets", []):
                    expr = (target["expr"].replace("$campaign", self.campaign)
                            .replace("$service", ".*").replace("$__rate_interval", RATE_WINDOW))
                    yield name, panel["title"], expr

    def feed(self, period: str) -> Any:
        """The aggregator's /v1/progress for a period of the campaign, read as the
        leadership reads it."""
        registry, aggregator = self.services["registry"], self.services["aggregator"]
        if self._leader is None:
            self._leader = str(registry.admin().post("/v1/credentials", json={
                "scope": "leadership", "label": "Giám sát"}).json()["token"])
        answers: list[httpx.Response] = []

        def read() -> bool:
            answers.append(aggregator.client(self._leader or "").get("/v1/progress", params={
                "campaign": self.campaign, "period": period}))
            return answers[-1].status_code == 200

        until(read, what=lambda: f"the progress of {period}: {answers[-1].text}")
        return answers[-1].json()

    def empty_panels(self) -> list[str]:
        return [f"{name}: {title}: {expr}" for name, title, expr in self.panel_queries()
                if not self.prometheus.query(expr)]


@pytest.fixture(scope="module")
def live(module_services, tmp_path_factory) -> Iterator[Live]:
    with SmtpServer() as smtp:
        registry = module_services("registry")
        reporting, aggregator = module_services("reporting"), module_services("aggregator")
        notifier = module_services("notifier", smtp_port=str(smtp.port),
                                   schedule_seconds="0.5")
        portal = module_services("portal", registry_url=registry.url,
                                 reporting_url=reporting.url, aggregator_url=aggregator.url)
        services = {s.service.name: s for s in (registry, reporting, aggregator, notifier,
                                                portal)}
        campaign = open_campaign(registry)
        folder = tmp_path_factory.mktemp("prometheus")
        with PrometheusServer(folder, {name: [f"127.0.0.1:{s.port}"]
                                       for name, s in services.items()}) as prometheus:
            yield Live(services, prometheus, campaign)


def unit(registry: ServiceProcess, reporting: ServiceProcess) -> str:
    code = f"xa-gs-{uuid.uuid4().hex[:6]}"
    admin = registry.admin()
    admin.post("/v1/units", json={"code": code, "name": f"Xã Giám Sát {code[-4:]}",
                                  "kind": "commune", "active_from": "2025-07-01",
                                  "contacts": {"email": f"{code}@example.vn"}}
               ).raise_for_status()
    token = str(admin.post("/v1/credentials", json={"scope": "unit", "unit_code": code,
                                                    "label": "cán bộ xã"}).json()["token"])
    until(lambda: reporting.client(token).get("/v1/reports").status_code == 200,
          what="reporting knows the unit's token")
    return token


def submit(reporting: ServiceProcess, token: str, campaign: str, period: str,
           activities: list[dict[str, Any]]) -> None:
    answer = httpx.post(reporting.url + "/v1/reports", json={
        "campaign": campaign, "period": period, "activities": activities},
        headers={"authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 201, answer.text


def test_every_panel_returns_data_and_every_alert_evaluates(live: Live) -> None:
    registry, reporting = live.services["registry"], live.services["reporting"]
    schedule = registry.admin().get(f"/v1/campaigns/{live.campaign}/periods").json()
    due = [p for p in schedule["items"] if p["due"]][-1]
    upcoming = next(p for p in schedule["items"] if not p["due"])
    first, second = unit(registry, reporting), unit(registry, reporting)
    unit(registry, reporting)  # reports nothing: one missing
    submit(reporting, first, live.campaign, due["period"], [
        {"kind": "social_post", "count": 4, "platform": "zalo", "format": "news"},
        {"kind": "loudspeaker_broadcast", "daily_counts": {due["starts_on"]: 2}}])
    submit(reporting, second, live.campaign, upcoming["period"], [
        {"kind": "foreign_language_item", "count": 1, "language": "en", "format": "bulletin"},
        {"kind": "banner", "count": 2}])

    prometheus = live.prometheus
    until(lambda: all(t["health"] == "up" for t in prometheus.api("targets")["activeTargets"]),
          what="every service scraped")
    # the receipts went out by email, the feeds caught up: every panel has something to show
    until(lambda: not live.empty_panels(), timeout=90,
          what=lambda: "panels without data:\n" + "\n".join(live.empty_panels()))

    # The gauges are the feeds' figures. (Communes other modules registered on the leg's
    # broker are expected in this campaign too: they reported nothing in it.)
    due_feed, upcoming_feed = live.feed(due["period"]), live.feed(upcoming["period"])
    communes = due_feed["by_unit_kind"]["commune"]
    assert communes["reported"] == 1 and communes["expected"] >= 3
    figures = {r["metric"]["unit_kind"]: float(r["value"][1]) for r in prometheus.query(
        f'campaign_units_missing{{campaign="{live.campaign}"}}')}
    assert figures == {"commune": float(communes["expected"] - 1)}  # one reported
    [next_due] = prometheus.query(
        f'campaign_next_deadline_completeness_ratio{{campaign="{live.campaign}"}}')
    assert next_due["metric"]["period"] == upcoming["period"]
    assert upcoming_feed["city"]["reported"] == 1
    assert float(next_due["value"][1]) == pytest.approx(
        upcoming_feed["city"]["completeness"], abs=1e-3)
    assert {r["metric"]["job"] for r in prometheus.query("service_ready == 1")} == set(
        live.services)

    for variable in ("campaign", "service"):  # the dashboards' drop-downs list something
        source = {"campaign": ("campaign_activities", "campaign"), "service": ("up", "job")}
        metric, label = source[variable]
        values = prometheus.api(f"label/{label}/values", **{"match[]": metric})
        assert values and (variable != "campaign" or live.campaign in values)

    for rule in alerts():  # parses, and evaluates without error in the rule manager
        prometheus.query(rule["expr"])
    time.sleep(2)  # an evaluation after the first scrapes of everything
    evaluated = {rule["name"]: rule for group in prometheus.api("rules")["groups"]
                 for rule in group["rules"]}
    assert set(evaluated) == {rule["alert"] for rule in alerts()}
    assert [(name, r["lastError"]) for name, r in evaluated.items() if r["health"] != "ok"] == []
    firing = {name for name, r in evaluated.items() if r["state"] == "firing"}
    assert firing <= {"CompletenessLowBeforeDeadline"}, firing  # a healthy stack is quiet


def test_promtool_accepts_the_configuration_the_test_scrapes_with(live: Live) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run([promtool, "check", "config", str(live.prometheus.config)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = re.findall(r'job_name: "(\w+)"', live.prometheus.config.read_text())
    assert jobs == list(live.services)


def test_a_service_whose_dependency_is_gone_shows_as_up_and_not_ready(live: Live) -> None:
    """What ServiceNotReady watches: the scrape still answers, service_ready drops."""
    registry = live.services["registry"]
    registry.stop()  # the portal calls the registry: its check fails, its scrapes go on
    try:
        until(lambda: live.prometheus.query('service_ready{job="portal"} == 0'),
              what="the portal not ready")
        assert live.prometheus.query('up{job="portal"} == 1')
        assert live.prometheus.query('service_check_ready{job="portal", check="registry"} == 0')
        until(lambda: live.prometheus.query('up{job="registry"} == 0'),
              what="the registry's scrapes failing")
    finally:
        registry.start()
    until(lambda: live.prometheus.query('service_ready{job="portal"} == 1'),
          what="the portal ready again")
