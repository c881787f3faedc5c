"""Reporting queries. Functions here read; they never commit."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Table, func
from sqlmodel import Session, col, select

from services.database import insert_on_conflict
from services.events import ReportSubmitted
from services.reporting.models import Report, ReportHead


@dataclass(frozen=True)
class Stored:
    """What numbering and deduplication need to know of a stored report."""

    id: str
    unit_code: str
    version: int
    content_sha256: str


REPORTS: Table = Report.__table__  # type: ignore[attr-defined]
HEADS: Table = ReportHead.__table__  # type: ignore[attr-defined]


def reports_by_id(session: Session, ids: list[str]) -> dict[str, Stored]:
    if not ids:
        return {}
    c = REPORTS.c
    query = sa.select(c.id, c.unit_code, c.version, c.content_sha256).where(c.id.in_(ids))
    return {row.id: Stored(*row) for row in session.execute(query)}


def latest_versions(session: Session, keys: set[tuple[str, str, str]]
                    ) -> dict[tuple[str, str, str], Stored]:
    """The newest stored version for each (unit, campaign, period), from the heads table."""
    if not keys:
        return {}
    c = HEADS.c
    query = sa.select(c.unit_code, c.campaign_code, c.period, c.report_id, c.version,
                      c.content_sha256).where(c.unit_code.in_({u for u, _, _ in keys}))
    heads = {}
    for row in session.execute(query):
        key = (row.unit_code, row.campaign_code, row.period)
        if key in keys:
            heads[key] = Stored(row.report_id, row.unit_code, row.version, row.content_sha256)
    return heads


def event_of(session: Session, report_id: str) -> ReportSubmitted:
    report = session.get(Report, report_id)
    assert report is not None
    return ReportSubmitted.model_validate_json(report.event)


def insert_reports(session: Session,
                   reports: list[tuple[ReportSubmitted, str, bytes]]) -> None:
    """One multi-row insert for a batch of new reports."""
    if not reports:
        return
    session.execute(REPORTS.insert(), [
        {"id": e.report_id, "unit_code": e.unit_code, "campaign_code": e.campaign_code,
         "period": e.period, "version": e.version, "supersedes": e.supersedes,
         "received_at": e.received_at, "on_time": e.on_time, "content_sha256": digest,
         "event": payload.decode()} for e, digest, payload in reports])
    heads = {(e.unit_code, e.campaign_code, e.period): {
        "unit_code": e.unit_code, "campaign_code": e.campaign_code, "period": e.period,
        "report_id": e.report_id, "version": e.version, "content_sha256": digest}
        for e, digest, _ in reports}  # the last version of a key in the batch wins
    upsert = insert_on_conflict(session)(HEADS)
    session.execute(upsert.on_conflict_do_update(
        index_elements=["unit_code", "campaign_code", "period"],
        set_={c: upsert.excluded[c] for c in ("report_id", "version", "content_sha256")}),
        list(heads.values()))



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
