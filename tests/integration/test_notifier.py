"""The notifier as a process, with registry and reporting, a real SMTP server and real
webhook receivers: receipts, reminders (cancelled by a report, held through quiet hours),
one message for an event delivered twice, retries after back-off, a parked message sent
again through the API, breach alerts, unreadable events dead-lettered, and one digest for
twenty breaches.
The notifier's clock is a file the test writes (tests.faults `clock_from_file`)."""

import asyncio
import json
import secrets
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from deploy.brokers import launch
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import AGGREGATOR_BREACHES, NOTIFIER_DEAD_LETTERS, REPORTS
from services.webhooks import unit_secret
from tests.integration.test_reporting import Stack
from tests.notifier_wave import SEED, STEP, Wave
from tests.receivers import SmtpServer, WebhookReceiver
from tests.rig import BROKER, ServiceProcess, TopicReader, on_legs, until

pytestmark = [
    *on_legs("tansu:sqlite", "kafka:postgres",
             why="each broker once, and each database once: two legs of four"),
]
HP = ZoneInfo("Asia/Ho_Chi_Minh")
DEPARTMENT = "lanh-dao-so@vhttdl.haiphong.gov.vn"
CAMPAIGN_NAME = "Tuyên truyền Đại hội đại biểu toàn quốc lần thứ XIV của Đảng"


class World:
    def __init__(self, stack: Stack, notifier: ServiceProcess, smtp: SmtpServer,
                 hooks: WebhookReceiver, clock: Path, key: bytes, bootstrap: str) -> None:
        self.stack, self.notifier, self.smtp, self.hooks = stack, notifier, smtp, hooks
        self._clock, self.key, self.bootstrap = clock, key, bootstrap
        self.leader = stack.leadership()

    def at(self, moment: datetime) -> None:
        """Set the notifier's clock (a whole new file: never half written when read)."""
        fresh = self._clock.with_suffix(".new")
        fresh.write_text(moment.isoformat())
        fresh.rename(self._clock)

    def unit(self, email: str | None = None, webhook: bool = False,
             hook_url: str | None = None) -> tuple[str, str]:
        contacts: dict[str, str] = {}
        if email:
            contacts["email"] = email
        if webhook or hook_url:
            contacts["webhook_url"] = hook_url or self.hooks.url
        code, token = self.stack.unit(contacts=contacts)
        until(lambda: self.notifier.client(self.leader).get(
            "/v1/notifications/preview", params={"unit": code, "campaign": "dai-hoi-xiv",
                                                 "period": "2026-W04"}).status_code == 200)
        return code, token

    def mail_to(self, address: str) -> list[Any]:
        return [m for m in self.smtp.messages if address in str(m["To"])]

    def notifications(self, **params: str) -> list[dict[str, Any]]:
        response = self.notifier.admin().get("/v1/notifications",
                                             params={"limit": "500", **params})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def publish(self, topic: str, key: str, value: dict[str, Any]) -> None:
        self.publish_raw(topic, key, json.dumps(value).encode())

    def publish_raw(self, topic: str, key: str, value: bytes) -> None:
        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(topic, value, key=key.encode())
            finally:
                await producer.stop()

        asyncio.run(send())




def daytime() -> datetime:
    """Now, moved out of quiet hours (21:00-07:00 in Hai Phong) where it falls in them."""
    now = datetime.now(HP)
    if now.hour >= 21:
        now = (now + timedelta(days=1)).replace(hour=9, minute=0)
    elif now.hour < 7:
        now = now.replace(hour=9, minute=0)
    return now.astimezone(UTC)


@pytest.fixture(scope="module")
def world(module_services, broker, tmp_path_factory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("notifier")
    clock, key = folder / "clock", secrets.token_urlsafe(32)
    clock.write_text(daytime().isoformat())
    asyncio.run(ensure_topics(ServiceSettings(  # the aggregator's, whose place the test takes
        port=1, database_url="sqlite://", kafka_bootstrap=broker.bootstrap,
        kafka_idempotence=broker.supports_idempotence), (AGGREGATOR_BREACHES,)))
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        registry = module_services("registry", webhook_signing_key=key)  # shows the secrets
        reporting = module_services("reporting")
        notifier = module_services(
            "notifier", fault="clock_from_file", test_clock_file=str(clock),
            smtp_port=str(smtp.port), webhook_signing_key=key,
            department_emails=json.dumps([DEPARTMENT]), schedule_seconds="0.3",
            first_retry_seconds="0.2", retry_cap_seconds="1", email_per_second="0")
        stack = Stack(registry, reporting, TopicReader(broker.bootstrap))
        found = World(stack, notifier, smtp, hooks, clock, key.encode(), broker.bootstrap)
        until(lambda: notifier.client(found.leader).get("/v1/notifications").status_code == 200)
        yield found


def banner(count: int = 3, period: str = "2026-W04", **fields: Any) -> dict[str, Any]:
    return {"campaign": "dai-hoi-xiv", "period": period,
            "activities": [{"kind": "banner", "count": count}]} | fields


def test_a_receipt_reaches_the_unit_by_email_and_by_signed_webhook(world) -> None:
    world.at(daytime())
    address = f"xa-{uuid.uuid4().hex[:6]}@example.vn"
    code, token = world.unit(email=address, webhook=True)
    response = world.stack.submit(token, banner(12))
    assert response.status_code == 201, response.text
    until(lambda: len(world.mail_to(address)) == 1)
    [mail] = world.mail_to(address)
    assert mail["Subject"] == f"[{CAMPAIGN_NAME}] Đã nhận báo cáo kỳ 2026-W04 của Xã Thử {code}"
    body = mail.get_content()
    assert "kỳ 2026-W04 (19/01/2026 – 25/01/2026)" in body
    assert "- Băng rôn, khẩu hiệu, pano, áp phích: 12" in body
    receipt_id = f"receipt:dai-hoi-xiv:2026-W04:{code}:v1"
    assert str(mail["Message-ID"]).strip() == f"<{receipt_id.replace(':', '.')}@notifier.localhost>"
    until(lambda: receipt_id in world.hooks.ids())
    [delivery] = [d for d in world.hooks.deliveries if d.headers["webhook-id"] == receipt_id]
    data = Verifier(unit_secret(world.key, code)).verify(delivery.body, delivery.headers)
    assert data["data"]["version"] == 1 and data["data"]["counted"] == {
        "Banners, slogans and posters": 12}


def test_a_unit_verifies_with_the_secret_the_registry_shows_it_and_then_a_rotated_one(
        world) -> None:
    world.at(daytime())
    code, token = world.unit(webhook=True)
    registry = world.stack.registry.client(token)  # the unit's own credential
    shown = registry.get(f"/v1/units/{code}/webhook-secret").json()["secret"]

    def delivery(version: int) -> Any:
        key = f"receipt:dai-hoi-xiv:2026-W04:{code}:v{version}"
        until(lambda: key in world.hooks.ids())
        return next(d for d in world.hooks.deliveries if d.headers["webhook-id"] == key)

    world.stack.submit(token, banner(2)).raise_for_status()
    first = delivery(1)
    Verifier(shown).verify(first.body, first.headers)
    rotated = registry.post(f"/v1/units/{code}/webhook-secret/rotate").json()
    assert rotated["generation"] == 2 and rotated["secret"] != shown
    # a later change of the unit: once the notifier shows it, it has read the rotation too
    world.stack.registry.admin().patch(f"/v1/units/{code}",
                                       json={"name": f"Xã Mới {code}"}).raise_for_status()
    until(lambda: f"Xã Mới {code}" in world.notifier.client(world.leader).get(
        "/v1/notifications/preview", params={"unit": code, "campaign": "dai-hoi-xiv",
                                             "period": "2026-W04"}).json()["subject"])
    world.stack.submit(token, banner(3)).raise_for_status()
    second = delivery(2)
    Verifier(rotated["secret"]).verify(second.body, second.headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(shown).verify(second.body, second.headers)


def test_the_same_report_event_twice_sends_one_receipt(world) -> None:
    world.at(daytime())
    address = f"xa-{uuid.uuid4().hex[:6]}@example.vn"
    code, token = world.unit(email=address)
    world.stack.submit(token, banner(5)).raise_for_status()
    [event] = world.stack.events_of(code, 1)
    assert event.value is not None
    world.publish(REPORTS.name, code, event.value)  # redelivered, as at-least-once may
    until(lambda: len(world.mail_to(address)) >= 1)
    time.sleep(2)
    assert len(world.mail_to(address)) == 1
    [receipt] = world.notifications(unit=code)
    assert (receipt["state"], receipt["attempts"]) == ("sent", 1)


def test_a_reminder_reaches_a_missing_unit_at_seven_and_is_cancelled_by_a_report(
        world) -> None:
    """2026-W04 is due Monday 26/01 17:00: its first reminder falls due Saturday 24/01 at
    17:00. The clock comes to 22:00 (quiet hours): the wave is planned, nothing goes."""
    ahead, late, silent = (f"{name}-{uuid.uuid4().hex[:6]}@example.vn"
                           for name in ("som", "muon", "im"))
    early, early_token = world.unit(email=ahead)
    missing, _ = world.unit(email=late)
    reporting, reporting_token = world.unit(email=silent)
    world.stack.submit(early_token, banner(period="2026-W04")).raise_for_status()
    until(lambda: any(n["kind"] == "receipt" for n in world.notifications(unit=early)))
    world.at(datetime(2026, 1, 24, 22, 0, tzinfo=HP))
    until(lambda: len(world.notifications(unit=missing, kind="reminder")) == 1)
    [waiting] = world.notifications(unit=missing, kind="reminder")
    assert waiting["state"] == "scheduled" and waiting["step"] == "before-48h"
    assert datetime.fromisoformat(waiting["due_at"]) == datetime(2026, 1, 25, 7, 0, tzinfo=HP)
    assert world.notifications(unit=early, kind="reminder") == []  # it had reported
    world.stack.submit(reporting_token, banner(period="2026-W04")).raise_for_status()
    until(lambda: [n["state"] for n in world.notifications(
        unit=reporting, kind="reminder")] == ["cancelled"])
    time.sleep(1)
    assert world.mail_to(late) == []  # quiet hours
    world.at(datetime(2026, 1, 25, 7, 0, tzinfo=HP))
    until(lambda: len(world.mail_to(late)) == 1)
    [mail] = world.mail_to(late)
    assert "Hạn nộp báo cáo kỳ 2026-W04 (19/01/2026 – 25/01/2026)" in mail.get_content()
    assert "17:00 26/01/2026" in mail.get_content()
    time.sleep(1)
    assert [m for m in world.mail_to(silent) if "Nhắc hạn" in str(m["Subject"])] == []
    assert _metric(world, 'notifications_sent_total{channel="email",kind="reminder"}') >= 1
    assert _metric(world, "notifier_reminder_waves_total") >= 1


def test_a_receiver_failing_three_times_gets_the_receipt_once_after_back_off(world) -> None:
    """The back-off runs on the notifier's clock: nothing goes again until the test moves it
    past the wait (at most a second here)."""
    start = daytime()
    world.at(start)
    with WebhookReceiver(fail_first=3) as flaky:
        code, token = world.unit(hook_url=flaky.url)
        world.stack.submit(token, banner(4)).raise_for_status()
        for refused in (1, 2, 3):
            until(lambda: flaky.refused == refused)  # noqa: B023 (called at once)
            time.sleep(0.5)
            assert flaky.refused == refused  # waiting out its back-off
            world.at(start + timedelta(seconds=2 * refused))
        until(lambda: len(flaky.deliveries) == 1)
        world.at(start + timedelta(minutes=5))
        time.sleep(1)
        assert flaky.refused == 3 and len(flaky.deliveries) == 1
    [receipt] = world.notifications(unit=code, kind="receipt")
    assert (receipt["state"], receipt["attempts"], receipt["channel"]) == ("sent", 4, "webhook")
    assert _metric(world, 'notifications_retried_total{channel="webhook",kind="receipt"}') >= 3


def test_a_receiver_that_always_fails_ends_parked_then_gets_it_once_re_sent(world) -> None:
    start = daytime()
    world.at(start)
    with WebhookReceiver(fail_always=True) as down:
        code, token = world.unit(hook_url=down.url)
        world.stack.submit(token, banner(6)).raise_for_status()
        for refused in range(1, 9):  # the notifier's eight attempts
            until(lambda: down.refused == refused)  # noqa: B023 (called at once)
            world.at(start + timedelta(seconds=2 * refused))
        until(lambda: [n["state"] for n in world.notifications(unit=code)] == ["parked"])
        world.at(start + timedelta(minutes=5))
        time.sleep(1)
        [parked] = world.notifications(unit=code)
        assert (parked["state"], parked["attempts"], down.refused) == ("parked", 8, 8)
        assert parked["last_error"] == "webhook answered 503: "
        assert _metric(world, 'notifications_parked_total{channel="webhook",kind="receipt"}') >= 1
        down.fail_always = False
        resent = world.notifier.admin().post(
            f"/v1/notifications/{parked['key']}/webhook/resend")
        assert resent.status_code == 200, resent.text
        until(lambda: len(down.deliveries) == 1)
        assert down.deliveries[0].headers["webhook-id"] == parked["key"]
        until(lambda: [n["state"] for n in world.notifications(unit=code)] == ["sent"])
        again = world.notifier.admin().post(f"/v1/notifications/{parked['key']}/webhook/resend")
        assert again.status_code == 409  # sent: a re-send is for a parked one only


def _metric(world: World, name: str) -> float:
    for line in httpx.get(world.notifier.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def breach(n: int, unit: str, rule: str = "report_missing") -> dict[str, Any]:
    return {"schema_version": 1, "breach_id": f"dai-hoi-xiv:{rule}:{unit}:2026-W05:{n}",
            "campaign": "dai-hoi-xiv", "rule": rule, "unit_code": unit,
            "unit_name": f"Xã Thử {unit}", "unit_kind": "commune", "period": "2026-W05",
            "day": None, "broadcasts": None, "target": None,
            "deadline": "2026-02-02T10:00:00Z", "detected_at": "2026-02-02T00:05:00Z"}


def test_twenty_breaches_give_the_unit_its_alert_and_leadership_one_digest(world) -> None:
    """The campaign names its own Department addresses in the registry: the digest goes
    there, not to the notifier's configured ones."""
    leaders = [f"chanh-van-phong-{uuid.uuid4().hex[:4]}@vhttdl.haiphong.gov.vn",
               "giam-doc@vhttdl.haiphong.gov.vn"]
    seed = json.loads(SEED.read_text())
    world.stack.registry.admin().put("/v1/campaigns/dai-hoi-xiv", json={
        k: v for k, v in seed.items() if k != "code"} | {
        "notifications": {"department_emails": leaders}}).raise_for_status()
    address = f"vp-{uuid.uuid4().hex[:6]}@example.vn"
    code, _ = world.unit(email=address)
    schedule = "/v1/campaigns/dai-hoi-xiv/notification-schedule"
    until(lambda: world.notifier.client(world.leader).get(schedule).json().get(
        "department_emails") == leaders)
    world.at(datetime(2026, 2, 2, 7, 30, tzinfo=HP))  # before the day's digest hour
    for n in range(20):
        world.publish(AGGREGATOR_BREACHES.name, code, breach(n, code))
    until(lambda: len(world.notifications(unit=code, kind="breach")) == 20)
    alerts = lambda: [m for m in world.mail_to(address)  # noqa: E731
                      if "Cảnh báo kỳ 2026-W05" in str(m["Subject"])]
    until(lambda: len(alerts()) == 20)
    assert "chưa gửi báo cáo kỳ 2026-W05" in alerts()[0].get_content()
    world.at(datetime(2026, 2, 3, 8, 0, tzinfo=HP))
    # ours: the broker holds other modules' campaigns, and each has its own digest
    ours = f"[{CAMPAIGN_NAME}] Tổng hợp ngày 03/02/2026"
    digests = lambda: [m for m in world.mail_to(leaders[0])  # noqa: E731
                       if str(m["Subject"]).startswith(ours)]
    until(lambda: len(digests()) == 1)
    time.sleep(1)
    [digest] = digests()
    assert leaders[1] in str(digest["To"]) and DEPARTMENT not in str(digest["To"])
    body = digest.get_content()
    assert "20 cảnh báo mới" in str(digest["Subject"])
    assert body.count(f"Xã Thử {code}: chưa gửi báo cáo kỳ 2026-W05") == 20
    assert "Kỳ 2026-W05" in body and "đơn vị đã báo cáo" in body


def test_an_unreadable_breach_goes_to_the_dead_letters_and_the_next_one_still_alerts(
        world) -> None:
    world.at(datetime(2026, 2, 2, 9, 0, tzinfo=HP))  # the breaches are news
    address = f"xa-{uuid.uuid4().hex[:6]}@example.vn"
    code, _ = world.unit(email=address)
    world.publish_raw(AGGREGATOR_BREACHES.name, code, b"{not json")
    world.publish(AGGREGATOR_BREACHES.name, code, breach(0, code) | {"rule": None})
    world.publish(AGGREGATOR_BREACHES.name, code, breach(1, code))
    until(lambda: len(world.notifications(unit=code, kind="breach")) == 1)
    letters = [r for r in world.stack.reader.read(
        NOTIFIER_DEAD_LETTERS.name, until=lambda rs: len([r for r in rs if r.key == code]) >= 2)
        if r.key == code]
    assert len(letters) == 2
    for letter in letters:
        assert letter.value is not None
        assert (letter.value["consumer"], letter.value["topic"]) == (
            "notifier-breaches", AGGREGATOR_BREACHES.name)
    assert "Invalid JSON" in letters[0].value["error"]
    assert "rule" in letters[1].value["error"]
    until(lambda: len(world.mail_to(address)) == 1)  # the readable one, alerted once


def test_a_notifier_killed_mid_wave_delivers_every_message_repeating_only_those_in_flight(
        tmp_path) -> None:
    own = launch(BROKER, workdir=tmp_path / "broker")
    wave = Wave(own.bootstrap, own.supports_idempotence, tmp_path, 300, max_attempts="3")
    try:
        wave.start()
        wave.fire()
        until(lambda: len(wave.delivered()[0]) >= 60, timeout=120)
        wave.notifier.stop(signal.SIGKILL)
        in_flight = _in_flight(tmp_path / "notifier.db")
        before = wave.delivered()
        assert sum(len(ids) for ids in before) < 2 * wave.count, "killed too late to tell"
        wave.notifier.start()
        wave.at(STEP + timedelta(minutes=5))  # past the dead dispatcher's lease
        wave.wait_complete(timeout=180)
        time.sleep(1)
        mails, hooks = wave.delivered()
        assert len(mails) == len(hooks) == wave.count  # every message, to every unit
        repeated = {i for i, n in mails.items() if n > 1} | {i for i, n in hooks.items()
                                                              if n > 1}
        assert repeated <= in_flight, repeated - in_flight
    finally:
        wave.close()
        own.stop()


def test_two_notifiers_on_one_database_send_each_message_once(tmp_path, database_url) -> None:
    own = launch(BROKER, workdir=tmp_path / "broker")
    wave = Wave(own.bootstrap, own.supports_idempotence, tmp_path, 300,
                database_url=database_url("notifier"))
    twin = wave.twin()
    try:
        wave.start()
        twin.start()
        wave.wait_known()
        wave.fire()
        wave.wait_complete(timeout=180)
        time.sleep(2)
        mails, hooks = wave.delivered()
        assert len(mails) == len(hooks) == wave.count
        assert [i for i, n in (mails + hooks).items() if n > 1] == []
        sent = [_metric_of(process.url, "notifications_sent_total") for process in
                (wave.notifier, twin)]
        assert sum(sent) == 2 * wave.count, sent  # each process counts what it sent
    finally:
        twin.stop()
        wave.close()
        own.stop()


def _metric_of(url: str, name: str) -> float:
    """A counter's total over its labels."""
    return sum(float(line.split()[-1]) for line in httpx.get(url + "/metrics").text.splitlines()
               if line.startswith(name + "{"))


def _in_flight(database: Path) -> set[str]:
    """The Message-IDs and webhook-ids of what the dead notifier had taken and not settled."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT key, channel FROM notifications WHERE state = 'sending'").fetchall()
    return {f"<{key.replace(':', '.')}@notifier.localhost>" if channel == "email" else key
            for key, channel in rows}
