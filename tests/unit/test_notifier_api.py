"""The notifier's routes in process: listing with filters, re-sending only what is parked,
the campaign's schedule and a template previewed with a real unit."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.bus.directory import Directory
from services.notifier import store
from services.notifier.api import router
from services.notifier.migrations import MIGRATIONS
from services.notifier.models import State
from services.notifier.planning import Links
from services.notifier.schedule import NotificationRules
from tests.unit.apps import bearer
from tests.unit.apps import client as app_client
from tests.unit.test_aggregator_rules import campaign, unit
from tests.unit.test_notifier_dispatch import notification

NOW = datetime(2026, 1, 26, 5, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
def client(migrated) -> TestClient:
    engine = migrated(MIGRATIONS)
    with Session(engine) as session:
        parked = notification(1)
        parked.state, parked.attempts, parked.last_error = State.parked, 8, "550 no mailbox"
        store.add_new(session, [parked, notification(2), notification(3, channel="webhook")])
        session.commit()
    woken: list[int] = []
    test = app_client(router, engine, directory=Directory(
        units={"xa-a": unit("xa-a", name="Xã A")}, campaigns={"dai-hoi-xiv": campaign()}),
        rules=lambda code: NotificationRules(), clock=Clock(),
        links=Links("http://portal/", "http://portal/tien-do"),
        wake_dispatcher=lambda: woken.append(1))
    test.woken = woken
    return test


ADMIN, LEAD = bearer("admin"), bearer("lanh-dao")


def test_readers_list_notifications_filtered_by_state_and_channel(client) -> None:
    everything = client.get("/v1/notifications", headers=LEAD).json()
    assert everything["total"] == 3
    parked = client.get("/v1/notifications", headers=LEAD, params={"state": "parked"}).json()
    assert [(n["key"], n["attempts"], n["last_error"]) for n in parked["items"]] == [
        (notification(1).key, 8, "550 no mailbox")]
    assert client.get("/v1/notifications", headers=bearer("unit:xa-a")).status_code == 403


def test_a_parked_notification_is_sent_again_and_only_a_parked_one(client) -> None:
    key = notification(1).key
    assert client.post(f"/v1/notifications/{key}/email/resend", headers=LEAD).status_code == 403
    again = client.post(f"/v1/notifications/{key}/email/resend", headers=ADMIN)
    assert again.status_code == 200, again.text
    assert (again.json()["state"], again.json()["attempts"]) == ("scheduled", 0)
    assert client.woken == [1]
    twice = client.post(f"/v1/notifications/{key}/email/resend", headers=ADMIN)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "not_parked")
    missing = client.post("/v1/notifications/nope/email/resend", headers=ADMIN)
    assert missing.status_code == 404


def test_the_schedule_lists_every_wave_of_the_campaign(client) -> None:
    body = client.get("/v1/campaigns/dai-hoi-xiv/notification-schedule", headers=LEAD).json()
    assert [s["name"] for s in body["reminders"]] == ["before-48h", "before-2h", "after-24h"]
    assert body["quiet_hours"] == ["21:00:00", "07:00:00"] and body["digest_at"] == "08:00:00"
    w04 = [w for w in body["waves"] if w["period"] == "2026-W04"]
    assert [(w["step"], w["due_at"], w["planned"]) for w in w04] == [
        ("before-48h", "2026-01-24T10:00:00Z", False), ("before-2h", "2026-01-26T08:00:00Z",
                                                        False),
        ("after-24h", "2026-01-27T10:00:00Z", False)]


def test_a_preview_renders_the_real_unit_and_period(client) -> None:
    shown = client.get("/v1/notifications/preview", headers=LEAD, params={
        "unit": "xa-a", "campaign": "dai-hoi-xiv", "period": "2026-W04"}).json()
    assert shown["subject"] == "[Đại hội XIV] Nhắc hạn báo cáo kỳ 2026-W04: Xã A"
    assert "17:00 26/01/2026" in shown["body"]
    wrong = client.get("/v1/notifications/preview", headers=LEAD, params={
        "unit": "xa-a", "campaign": "dai-hoi-xiv", "period": "2030-W01"})
    assert (wrong.status_code, wrong.json()["error"]["fields"][0]["field"]) == (404, "period")
