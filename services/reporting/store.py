"""Reporting queries. Functions here read; they never commit."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.database import RawConnection
from services.events import ReportSubmitted
from services.reporting.models import Report
from services.reporting.schemas import Receipt


@dataclass(frozen=True)
class Stored:
    """What numbering and deduplication need to know of a stored report."""

    id: str
    unit_code: str
    version: int
    content_sha256: str
    event: str | None = None  # the JSON of its event, where the query read it
    first_received_at: datetime | None = None  # of its key's version 1, where it was read
    received_at: datetime | None = None  # its own, where known without another query


# The writer's queries run on a raw connection: see database.RawConnection.

ReportKey = tuple[str, str]  # (unit code, report id): an id is unique within its unit


def reports_by_id(db: RawConnection, keys: set[ReportKey]) -> dict[ReportKey, Stored]:
    """The stored reports of these (unit, id) keys, one probe of the table's key (unit_code,
    id) each: by id alone it scanned the whole table, and `unit_code IN .. AND id IN ..`
    probed every unit with every id (a batch of 64 made 4,096 probes)."""
    if not keys:
        return {}
    pairs = sorted(keys)
    rows = db.select("WITH wanted(unit_code, id) AS (VALUES "
                     f"{', '.join(['(?, ?)'] * len(pairs))}) "
                     "SELECT r.id, r.unit_code, r.version, r.content_sha256, r.event "
                     "FROM wanted JOIN reports r ON r.unit_code = wanted.unit_code "
                     "AND r.id = wanted.id", [value for pair in pairs for value in pair])
    return {(row[1], row[0]): Stored(*row) for row in rows}


def latest_versions(db: RawConnection, keys: set[tuple[str, str, str]]
                    ) -> dict[tuple[str, str, str], Stored]:
    """The newest stored version for each (unit, campaign, period), from the heads table,
    with when the key's first version arrived."""
    units = list({u for u, _, _ in keys})
    if not units:
        return {}
    rows = db.select("SELECT unit_code, campaign_code, period, report_id, version, "
                     "content_sha256, first_received_at FROM report_heads "
                     f"WHERE unit_code IN ({_marks(len(units))})", units)
    return {(unit, campaign, period): Stored(report_id, unit, version, digest,
                                             first_received_at=_utc(db, first))
            for unit, campaign, period, report_id, version, digest, first in rows
            if (unit, campaign, period) in keys}


def _utc(db: RawConnection, value: Any) -> datetime:
    moment = db.moment(value)  # naive UTC from SQLite, aware in the session's zone elsewhere
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def received_at(db: RawConnection, unit_code: str, report_id: str) -> datetime:
    """When a stored report was received (UTC)."""
    [(moment,)] = db.select("SELECT received_at FROM reports WHERE unit_code = ? AND id = ?",
                            [unit_code, report_id])
    return _utc(db, moment)


def receipt(db: RawConnection, report: Stored) -> Receipt:
    """The receipt of a stored report, as first answered."""
    event = report.event
    if event is None:
        [(event,)] = db.select("SELECT event FROM reports WHERE unit_code = ? AND id = ?",
                               [report.unit_code, report.id])
    return Receipt.model_validate_json(event)


def insert_reports(db: RawConnection, reports: list[tuple[ReportSubmitted, str, bytes]]) -> None:
    """One statement for a batch of new reports, one for their heads."""
    db.many("INSERT INTO reports (id, unit_code, campaign_code, period, version, supersedes, "
              "received_at, on_time, content_sha256, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [(e.report_id, e.unit_code, e.campaign_code, e.period, e.version, e.supersedes,
                db.timestamp(e.received_at), e.on_time, digest, payload.decode())
               for e, digest, payload in reports])
    heads = {(e.unit_code, e.campaign_code, e.period): (
        e.report_id, e.version, digest, db.timestamp(e.first_received_at or e.received_at))
        for e, digest, _ in reports}  # the last version of a key in the batch wins
    # A head's first_received_at is written with its version 1 and never changes after.
    db.many("INSERT INTO report_heads (unit_code, campaign_code, period, report_id, version, "
              "content_sha256, first_received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
              "(unit_code, campaign_code, period) DO UPDATE SET report_id = excluded.report_id, "
              "version = excluded.version, content_sha256 = excluded.content_sha256",
              [key + head for key, head in heads.items()])


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def reports_with_id(session: Session, report_id: str, *, unit_code: str | None,
                    limit: int = 10) -> Sequence[Report]:
    """The reports of that id: the unit's one, or every unit's that chose it (a few)."""
    query = select(Report).where(Report.id == report_id)
    if unit_code is not None:
        query = query.where(Report.unit_code == unit_code)
    return session.exec(query.order_by(col(Report.unit_code)).limit(limit)).all()


def list_reports(session: Session, *, unit_code: str | None, campaign_code: str | None,
                 period: str | None, limit: int, offset: int) -> tuple[Sequence[Report], int]:
    """One page of the matching reports, newest first, and how many match in all."""
    query = select(Report)
    for column, value in ((Report.unit_code, unit_code), (Report.campaign_code, campaign_code),
                          (Report.period, period)):
        if value is not None:
            query = query.where(column == value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    ordered = query.order_by(col(Report.received_at).desc(), col(Report.unit_code),
                             col(Report.id))
    return session.exec(ordered.limit(limit).offset(offset)).all(), total
