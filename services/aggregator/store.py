"""Aggregator queries and writes. Functions here never commit."""

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session, col, select

from services.aggregator.models import ActivityCount, DailyBroadcast, PeriodReport
from services.database import insert_on_conflict

Key = tuple[str, str, str]  # campaign, period, unit
HEADS: Table = PeriodReport.__table__  # type: ignore[attr-defined]
COUNTS: Table = ActivityCount.__table__  # type: ignore[attr-defined]
DAYS: Table = DailyBroadcast.__table__  # type: ignore[attr-defined]


def standing_versions(session: Session, keys: set[Key]) -> dict[Key, int]:
    """The version that counts now for each (campaign, period, unit)."""
    if not keys:
        return {}
    c = HEADS.c
    query = sa.select(c.campaign_code, c.period, c.unit_code, c.version).where(
        c.unit_code.in_({unit for _, _, unit in keys}))
    found = {(r.campaign_code, r.period, r.unit_code): r.version for r in session.execute(query)}
    return {key: version for key, version in found.items() if key in keys}


def replace(session: Session, heads: list[dict[str, Any]], counts: list[dict[str, Any]],
            days: list[dict[str, Any]]) -> None:
    """Put each key's new standing report in place of whatever it contributed before."""
    keys = [{"c": h["campaign_code"], "p": h["period"], "u": h["unit_code"]} for h in heads]
    for table in (COUNTS, DAYS):
        session.execute(table.delete().where(
            table.c.campaign_code == sa.bindparam("c"), table.c.period == sa.bindparam("p"),
            table.c.unit_code == sa.bindparam("u")), keys)
    upsert = insert_on_conflict(session)(HEADS)
    session.execute(upsert.on_conflict_do_update(
        index_elements=["campaign_code", "period", "unit_code"],
        set_={c.name: upsert.excluded[c.name] for c in HEADS.c if not c.primary_key}), heads)
    if counts:
        session.execute(COUNTS.insert(), counts)
    if days:
        session.execute(DAYS.insert(), days)



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


def broadcasts(session: Session, campaign: str, start: date, end: date
               ) -> dict[str, dict[date, int]]:
    """Loudspeaker broadcasts per unit and day between two days (inclusive)."""
    query = select(DailyBroadcast).where(DailyBroadcast.campaign_code == campaign,
                                         col(DailyBroadcast.day) >= start,
                                         col(DailyBroadcast.day) <= end)
    found: dict[str, dict[date, int]] = {}
    for row in session.exec(query):
        found.setdefault(row.unit_code, {})[row.day] = row.count
    return found
