"""When notifications fall due: reminder steps around each period's deadline, quiet hours,
the daily digest. Pure: time comes in as an argument (the scheduler's clock).

A campaign's rules say when to remind (by default 48 hours and 2 hours before a period's
deadline, and 24 hours after it with the Department copied), when nothing goes to a unit
(21:00 to 07:00 in Hai Phong: a message falling due then goes at 07:00) and when the
leadership's digest goes (08:00).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services import periods
from services.events import CampaignNotifications, CampaignSnapshot, QuietHours, ReminderStep
from services.periods import Period

# A campaign's notification rules are campaign data: the registry publishes them with the
# campaign (the defaults where an administrator gave none).
NotificationRules = CampaignNotifications


@dataclass(frozen=True)
class Due:
    """A reminder step of one period, and when it falls due (UTC, before quiet hours)."""

    period: Period
    step: ReminderStep
    at: datetime


def reminders(campaign: CampaignSnapshot, rules: NotificationRules,
              around: tuple[datetime, datetime] | None = None) -> Iterator[Due]:
    """The reminder steps of every period (or of the periods whose steps may fall due
    within `around`), in the order they fall due per period."""
    first = last = None
    if around is not None:  # a step lies at most 31 days from its period's deadline
        first = (around[0] - timedelta(days=63)).date()
        last = (around[1] + timedelta(days=32)).date()
    for period in periods.of_campaign(campaign, first, last):
        for step in sorted(rules.reminders, key=lambda s: s.hours_from_deadline):
            yield Due(period, step, period.deadline + timedelta(hours=step.hours_from_deadline))


def outside_quiet_hours(moment: datetime, quiet: QuietHours | None) -> datetime:
    """The moment itself, or when the quiet hours it falls in end (UTC)."""
    if quiet is None or quiet.starts == quiet.ends:
        return moment
    zone = ZoneInfo(quiet.timezone)
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if quiet.starts > quiet.ends:  # over midnight, as 21:00 to 07:00
        if clock >= quiet.starts:
            return _at(local.date() + timedelta(days=1), quiet.ends, zone)
        if clock < quiet.ends:
            return _at(local.date(), quiet.ends, zone)
    elif quiet.starts <= clock < quiet.ends:
        return _at(local.date(), quiet.ends, zone)
    return moment


def digest_moment(day: date, rules: NotificationRules,
                  zone: str = "Asia/Ho_Chi_Minh") -> datetime:
    """When a day's digest falls due (UTC)."""
    return _at(day, rules.digest_at, ZoneInfo(zone))


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(ZoneInfo("UTC"))
