"""The aggregator on a real broker: report events in, live progress out.

Events are produced straight onto the report topic, as the reporting service would, so each
test controls versions, timeliness and duplicates; units and campaigns come from a real
registry. Every expected figure is worked out by hand in the test.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.brokers import launch
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import (
    AGGREGATOR_BREACHES,
    AGGREGATOR_DEAD_LETTERS,
    AGGREGATOR_PROGRESS,
    REPORTS,
    ReportSubmitted,
)
from services.web.spreadsheets import MEDIA_TYPE
from tests.rig import BROKER, ServiceProcess, TopicReader, until
from tests.unit.test_spreadsheets import records_of

pytestmark = pytest.mark.integration
PERIOD = {"period": "2026-W04", "period_start": "2026-01-19", "period_end": "2026-01-25",
          "deadline": "2026-01-26T10:00:00Z"}
ON_TIME, LATE = "2026-01-25T15:00:00Z", "2026-01-27T03:00:00Z"  # either side of the deadline


class World:
    """A registry, an aggregator, and a producer standing in for intake."""

    def __init__(self, registry: ServiceProcess, aggregator: ServiceProcess, broker: Any):
        self.registry, self.aggregator, self.broker = registry, aggregator, broker
        self.bootstrap = broker.bootstrap
        self.campaign = f"thu-nghiem-{uuid.uuid4().hex[:6]}"
        registry.admin().post("/v1/campaigns", json={
            "code": self.campaign, "name": "Chiến dịch thử", "starts_on": "2026-01-05",
            "ends_on": "2026-02-28",
            "peak_windows": [{"starts_on": "2026-01-19", "ends_on": "2026-01-25"}],
            "targets": {kind: {"loudspeaker_per_week": 3, "loudspeaker_per_peak_day": 1}
                        for kind in ("commune", "ward")}}).raise_for_status()
        self.leader = registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "Lãnh đạo"}).json()["token"]
        until(lambda: aggregator.client(self.leader).get("/v1/progress", params={
            "campaign": self.campaign, "period": "2026-W04"}).status_code == 200)

    def unit(self, kind: str = "commune", **fields: Any) -> str:
        code = f"{kind[:2]}-{uuid.uuid4().hex[:8]}"
        self.registry.admin().post("/v1/units", json={
            "code": code, "name": f"Đơn vị {code}", "kind": kind,
            "active_from": "2025-07-01"} | fields).raise_for_status()
        return code

    def publish(self, *values: bytes | dict[str, Any], key: str = "k") -> None:
        asyncio.run(self._publish(values, key))

    async def _publish(self, values: tuple[bytes | dict[str, Any], ...], key: str) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                raw = value if isinstance(value, bytes) else json.dumps(value).encode()
                await producer.send_and_wait(REPORTS.name, raw, key=key.encode())
        finally:
            await producer.stop()

    def event(self, unit: str, version: int = 1, *, on_time: bool = True,
              first_on_time: bool | None = None, kind: str = "commune",
              activities: list[dict[str, Any]] | None = None,
              campaign: str | None = None) -> dict[str, Any]:
        """A report as intake writes it: received before the deadline or after (`on_time`);
        for a revision, the unit's first report was too, unless `first_on_time` says."""
        first = on_time if version == 1 or first_on_time is None else first_on_time
        event = {"report_id": f"{unit}-v{version}", "unit_code": unit, "unit_kind": kind,
                 "campaign_code": campaign or self.campaign, "version": version,
                 "supersedes": f"{unit}-v{version - 1}" if version > 1 else None,
                 "received_at": ON_TIME if on_time else LATE,
                 "first_received_at": ON_TIME if first else LATE, "on_time": first,
                 "activities": activities or [{"kind": "banner", "count": 1}]} | PERIOD
        return ReportSubmitted.model_validate(event).model_dump(mode="json")

    def progress(self, path: str = "", **params: str) -> dict[str, Any]:
        response = self.aggregator.client(self.leader).get(
            f"/v1/progress{path}", params={"campaign": self.campaign, **params})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_applied(self, count: float) -> None:
        until(lambda: _metric(self.aggregator, "aggregator_reports_applied_total") >= count)


DEAD_LETTERS = 'consumer_dead_letters_total{consumer="aggregator"}'


def _metric(process: ServiceProcess, name: str) -> float:
    for line in httpx.get(process.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.fixture
def world(service_factory, tmp_path) -> Iterator[World]:
    """A broker of the test's own: expected units are every unit the registry topic holds."""
    own = launch(BROKER, workdir=tmp_path / "broker")
    asyncio.run(ensure_topics(ServiceSettings(port=1, database_url="sqlite://",
                                              kafka_bootstrap=own.bootstrap,
                                              kafka_idempotence=own.supports_idempotence),
                              (REPORTS, AGGREGATOR_DEAD_LETTERS)))
    registry = service_factory("registry", on=own)
    aggregator = service_factory("aggregator", on=own, kafka_session_timeout_ms="6000",
                                 breach_check_seconds="0.5", gauge_refresh_seconds="0.2")
    yield World(registry, aggregator, own)
    service_factory.stop()
    own.stop()


def test_completeness_and_timeliness_count_only_units_expected_in_the_period(world) -> None:
    a, b, c = world.unit(), world.unit(), world.unit()
    d = world.unit("ward")
    world.unit(active_until="2026-01-10")  # retired before the period: not expected
    world.unit("department")  # a kind this campaign expects nothing from
    until(lambda: world.aggregator.client(world.leader).get(
        "/v1/progress", params={"campaign": world.campaign, "period": "2026-W04"}
    ).json().get("city", {}).get("expected") == 4)
    world.publish(world.event(a), world.event(b, on_time=False),
                  world.event(d, kind="ward"))
    world.wait_applied(3)
    progress = world.progress(period="2026-W04")
    assert progress["city"] == {"expected": 4, "reported": 3, "on_time": 2,
                                "completeness": 0.75, "timeliness": 0.5}
    assert progress["by_unit_kind"]["commune"] == {"expected": 3, "reported": 2, "on_time": 1,
                                                   "completeness": 0.6667,
                                                   "timeliness": 0.3333}
    assert progress["by_unit_kind"]["ward"]["completeness"] == 1.0
    assert world.progress("/missing", period="2026-W04")["items"] == [
        {"code": c, "name": f"Đơn vị {c}", "kind": "commune", "parent": None}]
    communes = world.progress(period="2026-W04", kind="commune")
    assert communes["city"]["expected"] == 3 and communes["missing"] == 1


def test_a_revision_replaces_what_its_earlier_version_counted(world) -> None:
    unit = world.unit()
    first = [{"kind": "social_post", "count": 5, "platform": "facebook", "format": "video"}]
    second = [{"kind": "social_post", "count": 2, "platform": "facebook", "format": "video"},
              {"kind": "social_post", "count": 1, "platform": "zalo", "format": "news"},
              {"kind": "foreign_language_item", "count": 2, "language": "ja",
               "format": "bulletin"}]
    world.publish(world.event(unit, 1, activities=first))
    world.wait_applied(1)
    world.publish(world.event(unit, 2, activities=second, on_time=False, first_on_time=True))
    world.wait_applied(2)
    totals = world.progress(period="2026-W04")["totals"]
    assert totals["by_activity_kind"] == {"foreign_language_item": 2, "social_post": 3}
    assert totals["by_platform"] == {"social_post:facebook": 2, "social_post:zalo": 1}
    assert totals["by_language"] == {"foreign_language_item:ja": 2}
    assert world.progress(period="2026-W04")["city"]["on_time"] == 1  # its first report was
    mine = world.progress(f"/units/{unit}")
    assert [(p["period"], p["version"]) for p in mine["periods"]] == [("2026-W04", 2)]


def test_a_duplicate_or_older_event_is_counted_once(world) -> None:
    unit = world.unit()
    v1 = world.event(unit, 1, activities=[{"kind": "banner", "count": 1}])
    v2 = world.event(unit, 2, activities=[{"kind": "banner", "count": 4}])
    world.publish(v1)
    world.wait_applied(1)
    world.publish(v2, v2, v1, v2)  # the unit's messages keep their order on its partition
    later = world.event(unit, 3, activities=[{"kind": "banner", "count": 4},
                                             {"kind": "portal_column", "count": 1}])
    world.publish(later, v2, later)
    world.wait_applied(2)
    until(lambda: world.progress(period="2026-W04")["totals"]["by_activity_kind"] == {
        "banner": 4, "portal_column": 1})
    assert world.progress(f"/units/{unit}")["periods"][0]["version"] == 3
    # v1, then v2 unless v3 arrived in the same batch, then v3: never a duplicate
    assert _metric(world.aggregator, "aggregator_reports_applied_total") in (2, 3)


def test_an_unreadable_newest_version_is_dead_lettered_and_the_one_before_counts(
        world) -> None:
    unit, other = world.unit(), world.unit()
    good = world.event(unit, 1, activities=[{"kind": "banner", "count": 2}])
    unreadable = world.event(unit, 2) | {"activities": [{"kind": "no_such_kind", "count": 1}]}
    world.publish(good, unreadable, world.event(other, 1, activities=[
        {"kind": "portal_column", "count": 1}]))
    until(lambda: world.progress(period="2026-W04")["totals"]["by_activity_kind"] == {
        "banner": 2, "portal_column": 1})
    letters = TopicReader(world.bootstrap).read(AGGREGATOR_DEAD_LETTERS.name,
                                                until=lambda rs: len(rs) >= 1)
    assert [json.loads(r.value["value"])["version"] for r in letters
            if r.value is not None] == [2]
    assert world.progress(f"/units/{unit}")["periods"][0]["version"] == 1


def test_a_poison_message_goes_to_the_dead_letter_topic_and_later_ones_count(world) -> None:
    unit = world.unit()
    world.publish(b"{not json", {"unit_code": unit, "version": "one"},
                  world.event(unit, activities=[{"kind": "banner", "count": 2}]))
    world.wait_applied(1)
    assert world.progress(period="2026-W04")["totals"]["by_activity_kind"] == {"banner": 2}
    letters = TopicReader(world.bootstrap).read(
        AGGREGATOR_DEAD_LETTERS.name, until=lambda rs: len(rs) >= 2)
    values = [r.value for r in letters if r.value is not None]
    assert [v["value"] for v in values[-2:]] == ["{not json", json.dumps(
        {"unit_code": unit, "version": "one"})]
    assert all(v["consumer"] == "aggregator" and v["error"] for v in values)
    assert _metric(world.aggregator, DEAD_LETTERS) >= 2


def test_a_crash_between_write_and_offset_commit_counts_nothing_twice(
        world, service_factory) -> None:
    unit = world.unit()
    world.aggregator.stop()
    database = world.aggregator.env["AGGREGATOR_DATABASE_URL"]
    crashing = service_factory("aggregator", on=world.broker, database=database,
                               fault="exit_before_offset_commit",
                               kafka_session_timeout_ms="6000")
    world.publish(world.event(unit, activities=[{"kind": "banner", "count": 3}]))
    assert crashing.process is not None and crashing.process.wait(timeout=60) == 17
    world.aggregator = service_factory("aggregator", on=world.broker, database=database,
                                       kafka_session_timeout_ms="6000")
    until(lambda: world.progress(period="2026-W04")["totals"]["by_activity_kind"] == {
        "banner": 3})
    marker = world.unit()
    world.publish(world.event(marker, activities=[{"kind": "portal_column", "count": 1}]))
    world.wait_applied(1)
    assert world.progress(period="2026-W04")["totals"]["by_activity_kind"] == {
        "banner": 3, "portal_column": 1}


def test_feeds_need_a_leadership_credential(world) -> None:
    unit = world.unit()
    token = world.registry.admin().post("/v1/credentials", json={
        "scope": "unit", "unit_code": unit, "label": "x"}).json()["token"]
    until(lambda: world.aggregator.client(token).get(
        "/v1/progress", params={"campaign": world.campaign, "period": "2026-W04"}
    ).status_code == 403)
    assert world.aggregator.client().get("/v1/progress").status_code == 401


def broadcasting(days: dict[int, int]) -> list[dict[str, Any]]:
    return [{"kind": "loudspeaker_broadcast",
             "daily_counts": {f"2026-01-{day}": n for day, n in days.items()}}]


def test_loudspeaker_compliance_names_the_failing_units_weeks_and_peak_days(world) -> None:
    every_day = dict.fromkeys(range(19, 26), 1)
    a, b, c, d = (world.unit() for _ in range(4))
    e = world.unit("ward")
    world.publish(world.event(a, activities=broadcasting(every_day)),
                  world.event(b, activities=broadcasting({19: 2, 20: 2})),
                  world.event(c, activities=broadcasting({19: 1})),
                  world.event(e, kind="ward", activities=broadcasting(every_day)))
    world.wait_applied(4)
    until(lambda: world.progress(period="2026-W04")["city"]["expected"] == 5)
    progress = world.progress(period="2026-W04")
    duty = progress["loudspeaker"]
    assert duty["units_checked"] == 4  # d did not report: it is missing, not judged
    assert progress["missing"] == 1
    assert (duty["units_failing"], duty["units_below_weekly"], duty["units_below_daily"]) == (
        2, 1, 2)
    page = world.progress("/below-target", period="2026-W04")
    failing = {f["code"]: f for f in page["items"]}
    assert set(failing) == {b, c} and page["total"] == 2 and page["next_cursor"] is None
    assert failing[b]["weeks_below"] == []
    assert [x["day"] for x in failing[b]["days_below"]] == [
        f"2026-01-{day}" for day in range(21, 26)]
    assert failing[c]["weeks_below"] == [{"week": "2026-W04", "broadcasts": 1, "target": 3}]
    assert len(failing[c]["days_below"]) == 6


def test_coverage_and_the_csv_table_for_excel(world) -> None:
    press_like = world.unit()
    world.publish(world.event(press_like, activities=[
        {"kind": "social_post", "count": 2, "platform": "facebook", "format": "video"},
        {"kind": "social_post", "count": 1, "platform": "tiktok", "format": "video"},
        {"kind": "foreign_language_item", "count": 1, "language": "zh", "format": "programme"},
        {"kind": "banner", "count": 1}]))
    world.wait_applied(1)
    coverage = world.progress(period="2026-W04")["coverage"]["city"]
    assert coverage["platforms"] == {"facebook": True, "zalo": False, "youtube": False,
                                     "tiktok": True}
    assert coverage["languages"] == {"en": False, "zh": True, "ja": False, "ko": False}
    response = world.aggregator.client(world.leader).get("/v1/progress", params={
        "campaign": world.campaign, "period": "2026-W04", "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Mã đơn vị,Tên đơn vị,")  # the Vietnamese headers, then codes
    header, row = lines[1].split(","), lines[2].split(",")
    record = dict(zip(header, row, strict=True))
    assert (record["code"], record["name"], record["social_post"], record["reported"]) == (
        press_like, f"Đơn vị {press_like}", "3", "Có")
    workbook = world.aggregator.client(world.leader).get("/v1/progress", params={
        "campaign": world.campaign, "period": "2026-W04", "format": "xlsx"})
    assert workbook.headers["content-type"] == MEDIA_TYPE
    cells = {r["code"]: r for r in records_of(workbook.content)}
    assert (cells[press_like]["social_post"], cells[press_like]["reported"]) == (3, "Có")


def test_a_repeat_is_304_until_a_report_changes_the_figures_and_feeds_go_compressed(
        world) -> None:
    client = world.aggregator.client(world.leader)
    params = {"campaign": world.campaign, "period": "2026-W04"}
    before = world.progress(period="2026-W04")["city"]
    unit = world.unit()
    until(lambda: world.progress(period="2026-W04")["city"]["expected"] > before["expected"])
    first = client.get("/v1/progress", params=params)
    tag = first.headers["etag"]
    assert client.get("/v1/progress", params=params,
                      headers={"if-none-match": tag}).status_code == 304
    world.publish(world.event(unit))
    until(lambda: client.get("/v1/progress", params=params,
                             headers={"if-none-match": tag}).status_code == 200)
    changed = client.get("/v1/progress", params=params, headers={"if-none-match": tag})
    assert changed.headers["etag"] != tag
    assert changed.json()["city"]["reported"] == first.json()["city"]["reported"] + 1
    table = client.get("/v1/progress", params=params | {"format": "csv"},
                       headers={"accept-encoding": "gzip"})
    assert table.headers["content-encoding"] == "gzip"  # httpx has decoded it
    assert table.text.lstrip("\ufeff").startswith("Mã đơn vị,Tên đơn vị,")
    plain = client.get("/v1/progress", params=params | {"format": "csv"},
                       headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == table.text


def test_each_change_is_pushed_on_the_live_stream_and_the_progress_topic(world) -> None:
    unit = world.unit()
    world.unit()  # expected too, so completeness is one half after the report
    until(lambda: world.progress(period="2026-W04")["city"]["expected"] == 2)
    received: list[dict[str, Any]] = []
    with ThreadPoolExecutor(1) as pool:
        listening = pool.submit(_first_progress_event, world, received)
        until(lambda: bool(received))  # the stream is open (its first comment arrived)
        world.publish(world.event(unit))
        change = listening.result(timeout=30)
    assert change["campaign"] == world.campaign and change["units"] == [unit]
    assert change["city"]["reported"] == 1 and change["city"]["completeness"] == 0.5
    records = TopicReader(world.bootstrap).read(AGGREGATOR_PROGRESS.name, until=bool)
    assert records[-1].key == f"{world.campaign}:2026-W04"
    assert records[-1].value is not None and records[-1].value["report_ids"] == [f"{unit}-v1"]


def _first_progress_event(world: World, opened: list[dict[str, Any]]) -> dict[str, Any]:
    with httpx.stream("GET", world.aggregator.url + "/v1/progress/stream",
                      params={"campaign": world.campaign}, timeout=60,
                      headers={"authorization": f"Bearer {world.leader}"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith(":"):
                opened.append({})
            elif line == "event: progress":
                event = "progress"
            elif event == "progress" and line.startswith("data: "):
                return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended without a progress event")


def test_the_rebuild_from_the_topics_gives_the_live_figures(world, service_factory) -> None:
    """Rebuilt in the aggregator's own database, as its operator would: the figures of
    every parent and the roll-up come out as they were live (nothing counted twice)."""
    units = [world.unit(parent="31") for _ in range(3)]
    ward = world.unit("ward", parent="01")
    world.publish(
        world.event(units[0], activities=broadcasting({19: 1, 20: 2})),
        world.event(units[0], 2, activities=broadcasting({19: 3}) + [
            {"kind": "social_post", "count": 2, "platform": "youtube", "format": "video"}]),
        world.event(units[0], 1, activities=broadcasting({19: 9})),  # late duplicate of v1
        b"garbage",
        world.event(units[1], on_time=False, activities=[
            {"kind": "foreign_language_item", "count": 1, "language": "ko",
             "format": "article"}]),
        world.event(ward, kind="ward", activities=broadcasting(dict.fromkeys(range(19, 26), 1))))
    until(lambda: _metric(world.aggregator, DEAD_LETTERS) == 1
          and world.progress(period="2026-W04")["city"]["reported"] == 3
          and world.progress(period="2026-W04", parent="31")["city"]["reported"] == 2
          and world.progress(f"/units/{units[0]}")["periods"][0]["version"] == 2)
    feeds = {"all": ("", {}), "31": ("", {"parent": "31"}), "01": ("", {"parent": "01"}),
             "by parent": ("/parents", {})}
    live = {name: world.progress(path, period="2026-W04", **params)
            for name, (path, params) in feeds.items()}
    assert {k: live["31"]["city"][k] for k in ("expected", "reported", "on_time")} == {
        "expected": 3, "reported": 2, "on_time": 1}
    assert live["01"]["city"]["reported"] == 1
    assert [(i["parent"], i["all"]["reported"]) for i in live["by parent"]["items"]
            if i["parent"]] == [("01", 1), ("31", 2)]
    world.aggregator.stop()
    own = world.aggregator.env["AGGREGATOR_DATABASE_URL"]
    result = subprocess.run(
        [sys.executable, "-m", "services.aggregator.rebuild"], capture_output=True, text=True,
        timeout=120, env=os.environ | world.aggregator.env)
    assert result.returncode == 0, result.stderr
    assert "rebuilt from 6 report messages and" in result.stdout
    assert ": 3 standing reports, 1 unreadable" in result.stdout
    assert "6 report messages folded" in result.stderr
    world.aggregator = service_factory("aggregator", on=world.broker, database=own,
                                       kafka_session_timeout_ms="6000")
    rebuilt = {name: world.progress(path, period="2026-W04", **params)
               for name, (path, params) in feeds.items()}
    assert rebuilt == live
    assert live["all"]["totals"]["by_activity_kind"]["loudspeaker_broadcast"] == 10


def test_breaches_are_announced_once_each(world) -> None:
    code = f"mot-tuan-{uuid.uuid4().hex[:6]}"
    quiet_day, silent = world.unit(), world.unit()
    world.publish(world.event(quiet_day, campaign=code, activities=broadcasting(
        {19: 1, 20: 1, 22: 1, 23: 1, 24: 1, 25: 1})))
    world.wait_applied(1)
    # The campaign (whose deadlines are all past) appears once its report is in.
    world.registry.admin().post("/v1/campaigns", json={
        "code": code, "name": "Một tuần", "starts_on": "2026-01-19", "ends_on": "2026-01-25",
        "peak_windows": [{"starts_on": "2026-01-19", "ends_on": "2026-01-25"}],
        "targets": {"commune": {"loudspeaker_per_week": 3, "loudspeaker_per_peak_day": 1}},
    }).raise_for_status()

    def announced() -> list[tuple[str, str, str]]:
        records = TopicReader(world.bootstrap).read_all(AGGREGATOR_BREACHES.name)
        return sorted((r.value["rule"], r.value["unit_code"], r.value["breach_id"].split("|")[-1])
                      for r in records if r.value and r.value["campaign"] == code)

    expected = sorted([("loudspeaker_peak_day", quiet_day, "2026-01-21"),
                       ("report_missing", silent, "2026-W04")])
    until(lambda: announced() == expected)
    time.sleep(2)  # several more rounds of checking
    assert announced() == expected


def test_campaign_gauges_for_grafana_have_bounded_labels(world) -> None:
    reported, _ = world.unit(), world.unit()
    world.publish(world.event(reported, activities=[
        {"kind": "social_post", "count": 3, "platform": "zalo", "format": "news"}]))
    world.wait_applied(1)
    activities = (f'campaign_activities{{campaign="{world.campaign}",kind="social_post",'
                  f'language="",platform="zalo"}} 3.0')
    until(lambda: activities in httpx.get(world.aggregator.url + "/metrics").text)
    text = httpx.get(world.aggregator.url + "/metrics").text
    assert f'campaign_completeness_ratio{{campaign="{world.campaign}",unit_kind="commune"}}' \
        in text
    assert f'campaign_units_below_broadcast_target{{campaign="{world.campaign}"' in text
    assert reported not in text  # no unit codes as labels


def test_a_progress_change_reaches_its_topic_even_when_the_relay_dies_before_sending_it(
        world) -> None:
    """The change is queued in the outbox with the fold; the relay that should have sent
    it is frozen, then killed: its successor sends it."""
    unit = world.unit()
    until(lambda: world.progress(period="2026-W04")["city"]["expected"] == 1)  # known there
    until(lambda: world.aggregator.children() != [])
    [relay] = world.aggregator.children()
    os.kill(relay, signal.SIGSTOP)
    try:
        world.publish(world.event(unit))
        world.wait_applied(1)
    finally:
        os.kill(relay, signal.SIGKILL)
    records = TopicReader(world.bootstrap).read(
        AGGREGATOR_PROGRESS.name, timeout=30,
        until=lambda rs: any(r.value and unit in r.value["units"] for r in rs))
    [change] = [r.value for r in records if r.value and unit in r.value["units"]]
    assert change["campaign"] == world.campaign and change["city"]["reported"] == 1
    until(lambda: world.aggregator.children() not in ([], [relay]))  # a new relay runs
