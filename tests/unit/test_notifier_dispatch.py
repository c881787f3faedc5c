"""The dispatcher against a real SMTP server and a real webhook receiver on loopback, on a
migrated SQLite database, with the clock driven by the test: once, retried with back-off,
parked and sent again, quiet hours, a dispatcher that dies with messages in flight."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select
from standardwebhooks import Webhook as Verifier

from services.events import QuietHours
from services.notifier import store
from services.notifier.channels import Email, SmtpSettings, Webhook
from services.notifier.dispatch import Dispatcher, Policy, resend
from services.notifier.migrations import MIGRATIONS
from services.notifier.models import Notification, State
from services.webhooks import unit_secret
from tests.receivers import SmtpServer, WebhookReceiver

KEY = b"s" * 32
HP = ZoneInfo("Asia/Ho_Chi_Minh")
NOON = datetime(2026, 1, 26, 12, 0, tzinfo=HP).astimezone(UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def notification(n: int, channel: str = "email", recipient: str = "xa@example.vn",
                 due: datetime = NOON, unit: str | None = "xa-a") -> Notification:
    return Notification(
        key=f"reminder:dai-hoi-xiv:2026-W04:xa-{n}:before-2h", channel=channel,
        kind="reminder", campaign="dai-hoi-xiv", period="2026-W04", unit_code=unit,
        step="before-2h", recipient=recipient, language="vi",
        subject=f"[Đại hội XIV] Nhắc hạn báo cáo kỳ 2026-W04: Xã {n}",
        body="Kính gửi Xã,\nHạn nộp là 17:00 26/01/2026.\n",
        payload=json.dumps({"unit": unit, "period": "2026-W04"}), state=State.scheduled,
        due_at=due, created_at=due)


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)


def add(engine, *notifications: Notification) -> None:
    with Session(engine) as session:
        store.add_new(session, list(notifications))
        session.commit()


def states(engine) -> dict[str, tuple[str, int]]:
    with Session(engine) as session:
        return {f"{n.key}/{n.channel}": (n.state, n.attempts)
                for n in session.exec(select(Notification))}


FAST = Policy(first_retry=10, retry_cap=60, max_attempts=4, lease=60)


def dispatcher(engine, clock, smtp: SmtpServer | None = None, policy: Policy = FAST,
               quiet: QuietHours | None = None) -> Dispatcher:
    channels = {"webhook": Webhook(KEY)}
    if smtp is not None:
        channels["email"] = Email(SmtpSettings(port=smtp.port))  # type: ignore[assignment]
    return Dispatcher(engine, channels, clock=clock, policy=policy,  # type: ignore[arg-type]
                      quiet_hours=lambda campaign: quiet)


def test_emails_go_once_each_over_one_reused_connection(engine) -> None:
    add(engine, *(notification(n) for n in range(20)))
    add(engine, notification(3))  # scheduled twice: one row
    with SmtpServer() as smtp:
        clock = Clock(NOON)
        sender = dispatcher(engine, clock, smtp)
        assert asyncio.run(_rounds(sender, 2)) == 20
        assert smtp.connections == 1
        assert len(smtp.messages) == 20 and set(smtp.ids().values()) == {1}
        mail = smtp.messages[0]
        assert mail["Message-ID"] == "<reminder.dai-hoi-xiv.2026-W04.xa-0.before-2h@" \
            "notifier.localhost>"
        assert mail["Subject"] == "[Đại hội XIV] Nhắc hạn báo cáo kỳ 2026-W04: Xã 0"
        assert "Hạn nộp là 17:00 26/01/2026." in mail.get_content()
    assert set(states(engine).values()) == {(State.sent, 1)}


async def _rounds(sender: Dispatcher, count: int) -> int:
    try:
        return sum([await sender.dispatch_once() for _ in range(count)])
    finally:
        await sender.close()


def test_a_receiver_that_fails_three_times_gets_the_message_once_after_back_off(
        engine) -> None:
    add(engine, notification(1, channel="webhook", recipient="http://x"))
    with WebhookReceiver(fail_first=3) as receiver:
        with Session(engine) as session:
            row = store.get(session, notification(1).key, "webhook")
            assert row is not None
            row.recipient = receiver.url
            session.add(row)
            session.commit()
        clock = Clock(NOON)
        sender = dispatcher(engine, clock)

        async def scenario() -> list[int]:
            taken = []
            for _ in range(4):
                taken.append(await sender.dispatch_once())
                assert await sender.dispatch_once() == 0  # not before its back-off ends
                clock.at += timedelta(seconds=FAST.retry_cap)
            await sender.close()
            return taken

        assert asyncio.run(scenario()) == [1, 1, 1, 1]
        assert receiver.refused == 3 and len(receiver.deliveries) == 1
    [(state, attempts)] = states(engine).values()
    assert (state, attempts) == (State.sent, 4)


def test_a_message_that_always_fails_is_parked_with_its_error_then_sent_again(engine) -> None:
    with WebhookReceiver(fail_always=True) as receiver:
        add(engine, notification(1, channel="webhook", recipient=receiver.url))
        clock = Clock(NOON)
        sender = dispatcher(engine, clock)

        async def until_parked() -> None:
            for _ in range(FAST.max_attempts):
                await sender.dispatch_once()
                clock.at += timedelta(seconds=FAST.retry_cap)
            assert await sender.dispatch_once() == 0  # parked: nothing more

        asyncio.run(until_parked())
        with Session(engine) as session:
            [parked] = session.exec(select(Notification)).all()
            assert (parked.state, parked.attempts) == (State.parked, FAST.max_attempts)
            assert parked.last_error == "webhook answered 503: "
        receiver.fail_always = False
        with Session(engine) as session:
            resend(parked, clock.now())
            session.add(parked)
            session.commit()
        asyncio.run(_rounds(dispatcher(engine, clock), 1))
        assert len(receiver.deliveries) == 1
    assert list(states(engine).values()) == [(State.sent, 1)]


def test_the_webhook_is_signed_for_the_unit_and_verifies_with_the_reference_library(
        engine) -> None:
    with WebhookReceiver() as receiver:
        add(engine, notification(1, channel="webhook", recipient=receiver.url))
        asyncio.run(_rounds(dispatcher(engine, Clock(NOON)), 1))
        [delivery] = receiver.deliveries
    data = Verifier(unit_secret(KEY, "xa-a")).verify(delivery.body, delivery.headers)
    assert data["type"] == "notification.reminder" and data["data"]["period"] == "2026-W04"
    assert delivery.headers["webhook-id"] == notification(1).key


def test_nothing_goes_to_a_unit_in_quiet_hours_it_goes_at_seven(engine) -> None:
    late = datetime(2026, 1, 26, 22, 30, tzinfo=HP).astimezone(UTC)
    add(engine, notification(1, due=late))
    with SmtpServer() as smtp:
        clock = Clock(late)
        sender = dispatcher(engine, clock, smtp, quiet=QuietHours())

        async def night() -> None:
            assert await sender.dispatch_once() == 1  # looked at, and put off
            clock.at = datetime(2026, 1, 27, 6, 59, tzinfo=HP).astimezone(UTC)
            assert await sender.dispatch_once() == 0
            clock.at = datetime(2026, 1, 27, 7, 0, tzinfo=HP).astimezone(UTC)
            assert await sender.dispatch_once() == 1
            await sender.close()

        asyncio.run(night())
        assert len(smtp.messages) == 1
    assert list(states(engine).values()) == [(State.sent, 1)]  # putting off is no attempt


def test_what_a_dead_dispatcher_held_goes_after_its_lease_under_the_same_id(engine) -> None:
    add(engine, *(notification(n) for n in range(3)))
    clock = Clock(NOON)
    dead = dispatcher(engine, clock)
    held = dead._claim(clock.now())  # taken, then the process died before delivering
    assert len(held) == 3
    with SmtpServer() as smtp:
        alive = dispatcher(engine, clock, smtp)

        async def later() -> None:
            assert await alive.dispatch_once() == 0  # still leased
            clock.at += timedelta(seconds=FAST.lease + 1)
            assert await alive.dispatch_once() == 3
            await alive.close()

        asyncio.run(later())
        assert sorted(smtp.ids()) == sorted(
            f"<reminder.dai-hoi-xiv.2026-W04.xa-{n}.before-2h@notifier.localhost>"
            for n in range(3))
    assert set(states(engine).values()) == {(State.sent, 2)}


def test_a_report_cancels_the_unit_s_reminders_not_yet_sent(engine) -> None:
    add(engine, notification(1), notification(1, channel="webhook", recipient="http://x"))
    with Session(engine) as session:
        assert store.cancel_reminders(session, "xa-a", "dai-hoi-xiv", "2026-W04") == 2
        session.commit()
    assert set(states(engine).values()) == {(State.cancelled, 0)}
    assert asyncio.run(_rounds(dispatcher(engine, Clock(NOON)), 1)) == 0
