"""The broker restarts: Tansu without anything (memory only), Apache Kafka with its log dir.

One scenario on a broker of the test's own, with registry, reporting and aggregator as
processes: reports accepted before and during the outage, readiness down while the broker
is and up within 10 s of its return, revocations and a retirement made during the outage
and after the restart taking effect within seconds, and nothing lost nor counted twice:
every stored report on the report topic, every unit, campaign and credential on the
registry's topics, every unit that reported in the aggregator's progress.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel

from deploy.brokers import launch
from services.bus.consumer import KafkaSource, Message
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import CAMPAIGNS, CREDENTIALS, REPORTS, UNITS, Topic
from tests.integration.test_reporting import Stack
from tests.rig import BROKER, ServiceProcess, TopicReader, latest

pytestmark = pytest.mark.integration
CAMPAIGN, PERIOD = "dai-hoi-xiv", "2026-W04"
OUTAGE = 15.0  # seconds the broker stays down
BACK_WITHIN = 10.0  # seconds for every service to be ready once the broker answers
EFFECT_WITHIN = 5.0  # seconds for a registry change to count at reporting and aggregator
T = TypeVar("T")


@dataclass
class Unit:
    code: str
    token: str
    credential: str


def within(seconds: float, condition: Callable[[], bool], what: str,
           why: Callable[[], object] = lambda: "") -> float:
    """Wait until `condition` holds; how long it took. Fails after `seconds`, saying `why`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds:.1f} s {why()}"
        time.sleep(0.1)
    return time.monotonic() - started


def readiness(service: ServiceProcess) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(service.url + "/readyz", timeout=10)
    except httpx.TransportError as exc:
        return 0, {"error": repr(exc)}
    return response.status_code, response.json()


def _status_is(service: ServiceProcess, status: int) -> bool:
    return readiness(service)[0] == status


def _broker_down(service: ServiceProcess) -> bool:
    """Not ready, and its broker check says why, naming the broker."""
    status, body = readiness(service)
    check = body.get("checks", {}).get("broker", "ok")
    return status == 503 and check.startswith("failed") and "broker" in check[len("failed"):]


def banner(report_id: str, count: int, period: str = PERIOD) -> dict[str, Any]:
    return {"campaign": CAMPAIGN, "period": period, "report_id": report_id,
            "activities": [{"kind": "banner", "count": count}]}


def test_everything_recovers_after_the_broker_restarts(service_factory, tmp_path) -> None:
    own = launch(BROKER, workdir=tmp_path / "broker")
    try:
        _scenario(own, service_factory)
    finally:
        service_factory.stop()
        own.stop()


def _scenario(own: Any, service_factory: Any) -> None:
    registry = service_factory("registry", on=own)
    reporting = service_factory("reporting", on=own)
    aggregator = service_factory("aggregator", on=own, kafka_session_timeout_ms="6000")
    services = {"registry": registry, "reporting": reporting, "aggregator": aggregator}
    stack = Stack(registry, reporting, TopicReader(own.bootstrap))
    admin = registry.admin()

    # 1. units, their tokens, leadership tokens; reports accepted before the outage
    tokens = dict(stack.unit() for _ in range(5))
    credentials = {c["unit_code"]: c["id"] for c in admin.get("/v1/credentials").json()["items"]
                   if c["unit_code"]}
    units = [Unit(code, token, credentials[code]) for code, token in tokens.items()]
    revoked_now, reporter_c, revoked_later, retired, reporter_b = units
    reader = stack.leadership()
    leader = admin.post("/v1/credentials", json={"scope": "leadership",
                                                 "label": "Lãnh đạo tạm"}).json()
    within(10, lambda: aggregator.client(leader["token"]).get("/v1/progress", params={
        "campaign": CAMPAIGN, "period": PERIOD}).status_code == 200, "aggregator knows tokens")
    standing = {}  # unit -> the banner count of its standing report for the period
    for n, unit in enumerate([revoked_later, reporter_b, retired], start=1):
        response = stack.submit(unit.token, banner(f"{unit.code}-before", n))
        assert response.status_code == 201, response.text
        standing[unit.code] = n

    # 2. the broker goes away: intake still accepts, durably; the registry still changes
    stopped = time.monotonic()
    own.stop()
    during = [(revoked_later, 10), (reporter_c, 20), (revoked_now, 30)]
    for unit, count in during:  # revoked_later's is a revision: version 2 replaces version 1
        response = stack.submit(unit.token, banner(f"{unit.code}-during", count))
        assert response.status_code == 201, response.text
        standing[unit.code] = count
    assert reporting.client(reader).get(f"/v1/reports/{revoked_later.code}-during").json()[
        "version"] == 2
    admin.post(f"/v1/credentials/{revoked_now.credential}/revoke").raise_for_status()
    down, took = {}, {}
    for name, service in services.items():
        within(OUTAGE - 1, partial(_broker_down, service), f"{name} not ready, naming the broker",
               partial(readiness, service))
        took[f"{name} not ready after the broker stopped"] = time.monotonic() - stopped
        down[name] = readiness(service)[1]["checks"]
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))

    # 3. the broker returns on the same port: every service is ready within 10 s
    own.start()
    back = time.monotonic()
    for name, service in services.items():
        within(BACK_WITHIN - (time.monotonic() - back), partial(_status_is, service, 200),
               f"{name} ready again", partial(readiness, service))
        took[f"{name} ready after the broker's return"] = time.monotonic() - back

    # 4. changes made during the outage and after the restart count within seconds
    admin.post(f"/v1/credentials/{revoked_later.credential}/revoke").raise_for_status()
    admin.post(f"/v1/credentials/{leader['id']}/revoke").raise_for_status()
    admin.post(f"/v1/units/{retired.code}/retire",  # the last day of 2026-W04
               json={"active_until": "2026-01-25"}).raise_for_status()
    changed = time.monotonic()

    def refused(token: str) -> bool:
        return stack.submit(token, {}).status_code == 401

    def within_effect(condition: Callable[[], bool], what: str) -> None:
        took[what] = within(EFFECT_WITHIN - (time.monotonic() - changed), condition, what,
                            lambda: {n: readiness(s) for n, s in services.items()})

    within_effect(lambda: refused(revoked_now.token), "revoked during the outage: 401")
    within_effect(lambda: refused(revoked_later.token), "revoked after the restart: 401")
    within_effect(lambda: aggregator.client(leader["token"]).get("/v1/progress", params={
        "campaign": CAMPAIGN, "period": PERIOD}).status_code == 401,
        "leadership revoked after the restart: 401 at the aggregator")
    within_effect(lambda: stack.submit(retired.token, banner(
        f"{retired.code}-w05-{uuid.uuid4().hex[:6]}", 1, period="2026-W05")).status_code == 403,
        "retired after the restart: 403")
    assert stack.submit(reporter_b.token, banner(f"{reporter_b.code}-after", 40)
                        ).status_code == 201
    standing[reporter_b.code] = 40

    # 5. nothing lost: every stored report on the topic, the registry's state on its topics
    stored = _stored_reports(reporting, reader)
    assert {f"{u.code}-during" for u, _ in during} <= stored
    topics = TopicReader(own.bootstrap)
    on_topic: set[str] = set()

    def all_reports_on_topic() -> bool:
        on_topic.update(r.value["report_id"] for r in topics.read_all(REPORTS.name) if r.value)
        return stored <= on_topic

    within(30, all_reports_on_topic, "every stored report on the report topic")
    assert on_topic == stored  # and nothing else

    units_now = {u["code"]: u for u in admin.get("/v1/units", params={"limit": 1000}).json()[
        "items"]}
    on_units = latest(topics.read_all(UNITS.name))
    assert set(on_units) == set(units_now)
    assert (on_units[retired.code] or {}).get("active_until") == "2026-01-25"
    campaigns = {c["code"] for c in admin.get("/v1/campaigns").json()["items"]}
    assert set(latest(topics.read_all(CAMPAIGNS.name))) == campaigns
    issued = {c["id"]: c for c in admin.get("/v1/credentials").json()["items"]}
    on_credentials = latest(topics.read_all(CREDENTIALS.name))
    assert set(on_credentials) == set(issued)
    for credential in (revoked_now.credential, revoked_later.credential, leader["id"]):
        assert (on_credentials[credential] or {}).get("revoked_at") is not None, credential

    # ...and the aggregator counts every unit that reported, each once, its standing version
    expected = {"expected": 5, "reported": 5, "on_time": 0, "completeness": 1.0,
                "timeliness": 0.0}

    def progress() -> dict[str, Any]:
        response = aggregator.client(reader).get("/v1/progress", params={
            "campaign": CAMPAIGN, "period": PERIOD})
        assert response.status_code == 200, response.text
        return dict(response.json())

    within(20, lambda: progress()["totals"]["by_activity_kind"].get("banner") == sum(
        standing.values()), "the aggregator folded every standing report")
    figures = progress()
    assert figures["city"] == expected, figures["city"]
    assert figures["missing"] == 0
    print(f"{BROKER}: not ready while down:", down)
    for what, seconds in took.items():
        print(f"{BROKER}: {what}: {seconds:.1f} s")


def _stored_reports(reporting: ServiceProcess, token: str) -> set[str]:
    """Every report (every version) reporting has stored, page by page."""
    found: list[str] = []
    client = reporting.client(token)
    while True:
        page = client.get("/v1/reports", params={"limit": 500, "offset": len(found)}).json()
        found += [r["report_id"] for r in page["items"]]
        if not page["items"] or len(found) >= page["total"]:
            return set(found)


def test_a_follower_finds_its_topic_made_again_and_refilled_past_its_position(
        tmp_path) -> None:
    """The gap the end offsets alone leave: the topic is made again and refilled beyond the
    follower's position before it looks. A plain restart that kept the data is no loss."""
    own = launch(BROKER, workdir=tmp_path / "broker")
    try:
        asyncio.run(_follow_through_a_restart(own))
    finally:
        own.stop()


async def _follow_through_a_restart(own: Any) -> None:
    topic = Topic(f"test.recovery.{uuid.uuid4().hex[:8]}", BaseModel, "key", "test",
                  compacted=True)
    settings = ServiceSettings(port=1, database_url="sqlite://", kafka_bootstrap=own.bootstrap,
                               kafka_idempotence=own.supports_idempotence)
    await ensure_topics(settings, (topic,))
    await _produce(own.bootstrap, topic.name, [("a", b"1"), ("b", b"2"), ("c", b"3")])
    source = KafkaSource(settings, (topic,), group=None)
    await source.open()
    try:
        first = await _fetch(source, 3)
        assert [m.key for m in first] == [b"a", b"b", b"c"]
        assert await source.rewind_if_lost() == {}

        await asyncio.to_thread(own.restart)
        if BROKER == "kafka":  # it kept its data: the same partition, nothing to rewind
            assert await _settled(source.rewind_if_lost) == {}
            await _delete(own.bootstrap, topic.name)
        await ensure_topics(settings, (topic,))
        await _produce(own.bootstrap, topic.name,
                       [(k, b"new") for k in ("x", "y", "a", "b", "c")])

        # the position (3) is below the new end (5): only the records give it away
        lost = await _settled(source.rewind_if_lost)
        assert list(lost) == [(topic.name, 0)], lost
        again = await _fetch(source, 5)
        assert [(m.offset, m.key, m.value) for m in again] == [
            (n, k.encode(), b"new") for n, k in enumerate(("x", "y", "a", "b", "c"))]
        assert await source.rewind_if_lost() == {}
    finally:
        await source.close()


async def _produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode(), partition=0)
    finally:
        await producer.stop()


async def _fetch(source: KafkaSource, count: int, timeout: float = 20) -> list[Message]:
    found: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found += await source.fetch(100)
    return found


async def _settled(call: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
    """The result of the first call that does not fail (the broker has just come back)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _delete(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        while topic in await admin.list_topics():
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
