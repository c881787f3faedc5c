"""When reminders and digests fall due, and quiet hours, in Hai Phong's time."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.notifier.schedule import (
    NotificationRules,
    QuietHours,
    ReminderStep,
    digest_moment,
    outside_quiet_hours,
    reminders,
)
from tests.unit.test_aggregator_rules import campaign

HP = ZoneInfo("Asia/Ho_Chi_Minh")


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HP)


def test_the_default_steps_fall_48_and_2_hours_before_and_24_after_the_deadline() -> None:
    due = [d for d in reminders(campaign(), NotificationRules()) if d.period.name == "2026-W04"]
    assert [(d.step.name, d.at.astimezone(HP), d.step.copy_department) for d in due] == [
        ("before-48h", local(2026, 1, 24, 17, 0), False),
        ("before-2h", local(2026, 1, 26, 15, 0), False),
        ("after-24h", local(2026, 1, 27, 17, 0), True)]


def test_steps_are_campaign_data_and_come_in_the_order_they_fall() -> None:
    rules = NotificationRules(reminders=(ReminderStep(name="after-1h", hours_from_deadline=1),
                                         ReminderStep(name="before-1d", hours_from_deadline=-24)))
    due = [d.step.name for d in reminders(campaign(), rules) if d.period.name == "2026-W04"]
    assert due == ["before-1d", "after-1h"]


@pytest.mark.parametrize(("at", "goes"), [
    (local(2026, 1, 26, 20, 59), local(2026, 1, 26, 20, 59)),  # before they start
    (local(2026, 1, 26, 21, 0), local(2026, 1, 27, 7, 0)),  # they start: next morning
    (local(2026, 1, 27, 3, 30), local(2026, 1, 27, 7, 0)),  # after midnight: this morning
    (local(2026, 1, 27, 7, 0), local(2026, 1, 27, 7, 0)),  # they have ended
])
def test_a_message_falling_in_quiet_hours_goes_at_seven(at, goes) -> None:
    assert outside_quiet_hours(at.astimezone(UTC), QuietHours()) == goes


def test_quiet_hours_are_per_campaign_and_may_be_none() -> None:
    lunch = QuietHours(starts=time(11, 30), ends=time(13, 30))
    assert outside_quiet_hours(local(2026, 1, 26, 12, 0), lunch) == local(2026, 1, 26, 13, 30)
    assert outside_quiet_hours(local(2026, 1, 26, 23, 0), lunch) == local(2026, 1, 26, 23, 0)
    assert outside_quiet_hours(local(2026, 1, 26, 23, 0), None) == local(2026, 1, 26, 23, 0)


def test_the_digest_goes_at_eight_each_morning() -> None:
    assert digest_moment(local(2026, 1, 26, 0, 0).date(), NotificationRules()) == local(
        2026, 1, 26, 8, 0)
    later = NotificationRules(digest_at=time(9, 30))
    assert digest_moment(local(2026, 1, 27, 0, 0).date(), later) == local(2026, 1, 27, 9, 30)
