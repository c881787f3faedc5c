"""Reporting periods and their deadlines, in the campaign's local time."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.events import ReportingPeriod
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


class PeriodError(ValueError):
    """The period string does not name a period of the campaign's kind."""


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
