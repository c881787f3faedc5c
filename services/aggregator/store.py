"""Aggregator queries and writes. Functions here never commit."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session, col, select

from services.aggregator.models import ActivityCount, DailyBroadcast, PeriodReport
from services.database import RawConnection

Key = tuple[str, str, str]  # campaign, period, unit
HEADS: Table = PeriodReport.__table__  # type: ignore[attr-defined]
COUNTS: Table = ActivityCount.__table__  # type: ignore[attr-defined]
DAYS: Table = DailyBroadcast.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Standing:
    """What the fold needs of a key's standing report: its version and its timeliness."""

    version: int
    first_received_at: datetime | None
    on_time: bool


def standing(session: Session, keys: set[Key]) -> dict[Key, Standing]:
    """The standing report of each (campaign, period, unit) that has one."""
    if not keys:
        return {}
    c = HEADS.c
    query = sa.select(c.campaign_code, c.period, c.unit_code, c.version, c.first_received_at,
                      c.on_time).where(c.unit_code.in_({unit for _, _, unit in keys}))
    found = {}
    for campaign, period, unit, version, first, on_time in session.execute(query):
        if (campaign, period, unit) in keys:  # the query matched units only
            found[campaign, period, unit] = Standing(version, _utc(first), bool(on_time))
    return found


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive, in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None \
        else moment


# The fold's writes, in the driver's own SQL: SQLAlchemy's work per row would cost more than
# the row.
HEAD_COLUMNS = ("campaign_code", "period", "unit_code", "unit_kind", "report_id", "version",
                "on_time", "received_at", "first_received_at", "period_start", "period_end")
COUNT_COLUMNS = ("campaign_code", "period", "unit_code", "kind", "platform", "format",
                 "language", "channel", "unit_kind", "count", "people_mobilised", "shares")
DAY_COLUMNS = ("campaign_code", "unit_code", "day", "period", "count")
_TIMES = (HEAD_COLUMNS.index("received_at"), HEAD_COLUMNS.index("first_received_at"))
_KEY = "campaign_code = ? AND period = ? AND unit_code = ?"


def replace(db: RawConnection, heads: list[tuple[Any, ...]], counts: list[tuple[Any, ...]],
            days: list[tuple[Any, ...]]) -> None:
    """Put each key's new standing report in place of whatever it contributed before.
    Rows are tuples in the order of HEAD_COLUMNS, COUNT_COLUMNS and DAY_COLUMNS."""
    keys = [head[:3] for head in heads]
    db.many(f"DELETE FROM {COUNTS.name} WHERE {_KEY}", keys)
    db.many(f"DELETE FROM {DAYS.name} WHERE {_KEY}", keys)
    updates = ", ".join(f"{name} = excluded.{name}" for name in HEAD_COLUMNS[3:])
    db.many(f"{_insert(HEADS, HEAD_COLUMNS)} ON CONFLICT (campaign_code, period, unit_code) "
            f"DO UPDATE SET {updates}", [_stamped(db, head) for head in heads])
    db.many(_insert(COUNTS, COUNT_COLUMNS), counts)
    db.many(_insert(DAYS, DAY_COLUMNS), days)


def _stamped(db: RawConnection, head: tuple[Any, ...]) -> tuple[Any, ...]:
    """A head row with its timestamps as the database takes them."""
    row = list(head)
    for at in _TIMES:
        if row[at] is not None:
            row[at] = db.timestamp(row[at])
    return tuple(row)


def _insert(table: Table, columns: tuple[str, ...]) -> str:
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


def reported(session: Session, campaign: str, period: str) -> dict[str, bool]:
    """The units that reported for a period, and whether each was on time (its first report
    by the deadline)."""
    c = HEADS.c
    query = sa.select(c.unit_code, c.on_time).where(c.campaign_code == campaign,
                                                    c.period == period)
    return {unit_code: bool(on_time) for unit_code, on_time in session.execute(query)}


def period_reports(session: Session, campaign: str, period: str) -> Sequence[PeriodReport]:
    query = select(PeriodReport).where(PeriodReport.campaign_code == campaign,
                                       PeriodReport.period == period)
    return session.exec(query).all()


def unit_reports(session: Session, campaign: str, unit: str) -> Sequence[PeriodReport]:
    query = select(PeriodReport).where(PeriodReport.campaign_code == campaign,
                                       PeriodReport.unit_code == unit)
    return session.exec(query.order_by(col(PeriodReport.period))).all()


def counts(session: Session, campaign: str, *, period: str | None = None,
           unit: str | None = None, unit_kinds: Iterable[str] | None = None
           ) -> Sequence[ActivityCount]:
    query = select(ActivityCount).where(ActivityCount.campaign_code == campaign)
    if period is not None:
        query = query.where(ActivityCount.period == period)
    if unit is not None:
        query = query.where(ActivityCount.unit_code == unit)
    if unit_kinds is not None:
        query = query.where(col(ActivityCount.unit_kind).in_(list(unit_kinds)))
    return session.exec(query).all()


def activity_totals(session: Session, campaign: str) -> dict[tuple[str, str, str], int]:
    """The campaign's activities by kind, platform and language, summed in the database."""
    c = COUNTS.c
    query = sa.select(c.kind, c.platform, c.language, sa.func.sum(c.count)).where(
        c.campaign_code == campaign).group_by(c.kind, c.platform, c.language)
    return {(kind, platform, language): int(total)
            for kind, platform, language, total in session.execute(query)}


def broadcasts(session: Session, campaign: str, start: date, end: date
               ) -> dict[str, dict[date, int]]:
    """Loudspeaker broadcasts per unit and day between two days (inclusive)."""
    c = DAYS.c
    query = sa.select(c.unit_code, c.day, c.count).where(
        c.campaign_code == campaign, c.day >= start, c.day <= end)
    found: dict[str, dict[date, int]] = {}
    for unit_code, day, count in session.execute(query):
        found.setdefault(unit_code, {})[day] = count
    return found
