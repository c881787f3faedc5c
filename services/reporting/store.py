"""Reporting queries. Functions here read; they never commit."""

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.reporting.models import Report


def latest_version(session: Session, unit_code: str, campaign_code: str,
                   period: str) -> Report | None:
    query = (select(Report)
             .where(Report.unit_code == unit_code, Report.campaign_code == campaign_code,
                    Report.period == period)
             .order_by(col(Report.version).desc()).limit(1))
    return session.exec(query).first()


def list_reports(session: Session, *, unit_code: str | None, campaign_code: str | None,
                 period: str | None, limit: int, offset: int) -> tuple[Sequence[Report], int]:
    query = select(Report)
    for column, value in ((Report.unit_code, unit_code), (Report.campaign_code, campaign_code),
                          (Report.period, period)):
        if value is not None:
            query = query.where(column == value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    ordered = query.order_by(col(Report.received_at).desc(), col(Report.id))
    return session.exec(ordered.limit(limit).offset(offset)).all(), total


def all_reports(session: Session) -> Sequence[Report]:
    return session.exec(select(Report).order_by(col(Report.received_at))).all()
