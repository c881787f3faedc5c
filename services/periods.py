"""Reporting periods and their deadlines, in the campaign's local time."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.events import CampaignSnapshot, ReportingPeriod
from services.events.registry import DeadlineRule

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")  # ASCII digits only, whole string
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def today() -> date:
    """Today in Hai Phong."""
    return datetime.now(LOCAL_ZONE).date()


def local_day(moment: datetime) -> date:
    """The day a moment falls on in Hai Phong."""
    return moment.astimezone(LOCAL_ZONE).date()


def local_moment(moment: datetime) -> datetime:
    """A moment in Hai Phong time."""
    return moment.astimezone(LOCAL_ZONE)


def written_day(value: date) -> str:
    """A day as people here write it: 26/01/2026 (a moment: its day in Hai Phong)."""
    if isinstance(value, datetime):
        value = local_day(value)
    return value.strftime("%d/%m/%Y")


def written_moment(value: datetime) -> str:
    """A moment as people here write it: 17:00 26/01/2026, in Hai Phong time."""
    return value.astimezone(LOCAL_ZONE).strftime("%H:%M %d/%m/%Y")


class PeriodError(ValueError):
    """The period string does not name a period of the campaign's kind."""

    rule = "period_format"


class OutsideCampaign(PeriodError):
    """The period is one of the campaign's kind but not within its calendar."""

    rule = "period_outside_campaign"


@dataclass(frozen=True)
class Period:
    """One period of a campaign: its days and when its report is due."""

    name: str
    start: date
    end: date
    deadline: datetime  # UTC


def of_campaign(campaign: CampaignSnapshot, first: date | None = None,
                last: date | None = None) -> Iterator[Period]:
    """The campaign's periods, in order: all of them, or those touching [first, last]."""
    day = max(campaign.starts_on, first or campaign.starts_on)
    until = min(campaign.ends_on, last or campaign.ends_on)
    while day <= until:
        name = name_of(day, campaign.reporting_period)
        start, end = bounds(name, campaign.reporting_period)
        yield Period(name, start, end, deadline(end, campaign.deadline))
        day = end + timedelta(days=1)


def in_campaign(campaign: CampaignSnapshot, name: str) -> Period:
    """The campaign's period of that name: PeriodError if the name is malformed,
    OutsideCampaign if the period has no day within the campaign (the one check of intake
    and of the feeds)."""
    start, end = bounds(name, campaign.reporting_period)
    if end < campaign.starts_on or start > campaign.ends_on:
        raise OutsideCampaign(f"{name} is outside the campaign ({campaign.starts_on} to "
                              f"{campaign.ends_on})")
    return Period(name, start, end, deadline(end, campaign.deadline))


def current(campaign: CampaignSnapshot, day: date) -> Period | None:
    """The campaign's period that a day (in Hai Phong) falls in; None outside the campaign."""
    return next(of_campaign(campaign, day, day), None)


def bounds(period: str, kind: ReportingPeriod) -> tuple[date, date]:
    """First and last day of a period such as `2026-W04` (ISO week) or `2026-01` (month)."""
    if kind is ReportingPeriod.iso_week:
        return _week(period)
    return _month(period)


def _week(period: str) -> tuple[date, date]:
    match = _WEEK.fullmatch(period)
    if not match:
        raise PeriodError("an ISO week such as 2026-W04 is expected")
    try:
        start = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise PeriodError(f"{period} is not a week of that year") from None
    return start, start + timedelta(days=6)


def _month(period: str) -> tuple[date, date]:
    match = _MONTH.fullmatch(period)
    if not match or not 1 <= int(match[2]) <= 12 or not 1 <= int(match[1]) <= 9998:
        raise PeriodError("a month such as 2026-01 is expected")
    start = date(int(match[1]), int(match[2]), 1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - timedelta(days=1)


def name_of(day: date, kind: ReportingPeriod) -> str:
    """The period a day falls in."""
    if kind is ReportingPeriod.iso_week:
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def deadline(period_end: date, rule: DeadlineRule) -> datetime:
    """The moment (UTC) a period's report is due."""
    local = datetime.combine(period_end + timedelta(days=rule.days_after_period_end), rule.at,
                             tzinfo=ZoneInfo(rule.timezone))
    return local.astimezone(UTC)
