"""The audit trail: who changed what in the registry, and when, and which reports the
Department entered on a unit's behalf.

An entry is added to the session of the change it records, before that change commits, so
the two are one transaction: a change that is refused (or rolled back) leaves no entry, and
none is missing for a change that committed. Entries are never updated.

What changed is kept as values (a creation) or as `{before, after}` per field (an update);
tokens, secrets and their hashes are never kept: their values read `REDACTED`.
"""

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from services.callers import Caller
from services.database import insert_on_conflict
from services.events import ReportSubmitted
from services.events.registry import as_utc
from services.registry.models import AuditEntry
from services.registry.schemas import AuditActorPublic, AuditEntryPublic
from services.web.schemas import CONTROL_CHARACTERS
from services.web.spreadsheets import Column, Sheet

# Fields that are never written into an entry, whatever the entity.
REDACTED = "REDACTED"
SECRET_FIELDS = frozenset({"token", "token_sha256", "token_prefix", "secret", "password"})
# Bookkeeping every change moves on: not what an auditor asks "what changed" about.
BOOKKEEPING = frozenset({"name_key", "revision", "created_at", "updated_at"})

ENTITIES: dict[str, tuple[str, str]] = {
    "unit": ("Đơn vị", "Unit"), "campaign": ("Chiến dịch", "Campaign"),
    "credential": ("Mã truy cập", "Credential"), "report": ("Báo cáo", "Report")}
ACTIONS: dict[str, tuple[str, str]] = {
    "created": ("Tạo mới", "Created"), "updated": ("Cập nhật", "Updated"),
    "retired": ("Thôi hoạt động", "Retired"), "deleted": ("Xoá", "Deleted"),
    "secret_rotated": ("Đổi khoá webhook", "Webhook secret rotated"),
    "imported": ("Nhập từ tệp", "Imported"), "issued": ("Cấp mã", "Issued"),
    "revoked": ("Thu hồi mã", "Revoked"),
    "entered_on_behalf": ("Nhập thay đơn vị", "Entered on the unit's behalf")}
COLUMNS = (Column("at", "Thời điểm", "datetime", 20), Column("actor", "Người thực hiện", width=30),
           Column("entity", "Đối tượng", width=16), Column("entity_id", "Mã", width=30),
           Column("action", "Thao tác", width=22), Column("changes", "Thay đổi", width=60),
           Column("note", "Ghi chú", width=40))


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the admin token, a credential, or the registry itself; with the
    HTTP request it came in, if any."""

    id: str
    scope: str | None = None
    label: str | None = None
    request_id: str | None = None


SEED = Actor("system", label="Khởi tạo chiến dịch khi khởi động (seed)")


def actor_of(caller: Caller, label: str | None = None) -> Actor:
    """The actor of an HTTP caller (`label`: its credential's), in the request's id."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if caller.scope == "admin":
        return Actor("admin", "admin", None, request_id)
    who = caller.credential_id or f"{caller.scope}:{caller.unit_code or ''}"
    return Actor(who, caller.scope, label, request_id)


# --- what changed ------------------------------------------------------------------------


def values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A creation's values, as JSON, without bookkeeping, empty fields or secrets."""
    return redact({k: to_jsonable_python(v) for k, v in fields.items()
                   if k not in BOOKKEEPING and v is not None})


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Each field whose value differs, as `{before, after}` (JSON), without bookkeeping."""
    return redact({k: {"before": to_jsonable_python(before.get(k)),
                       "after": to_jsonable_python(after.get(k))}
                   for k in after if k not in BOOKKEEPING and before.get(k) != after.get(k)})


def redact(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes with every secret field's value replaced."""
    return {k: (_redacted(v) if k in SECRET_FIELDS else v) for k, v in changes.items()}


def _redacted(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"before", "after"}:
        return {"before": REDACTED, "after": REDACTED}
    return REDACTED


# --- recording ---------------------------------------------------------------------------


def record(session: Session, by: Actor, entity: str, entity_id: str, action: str,
           changes: dict[str, Any], *, note: str | None = None) -> None:
    """Add an entry to the change's transaction (the caller commits)."""
    session.add(AuditEntry(**row(by, entity, entity_id, action, changes, note=note)))


def row(by: Actor, entity: str, entity_id: str, action: str, changes: dict[str, Any], *,
        note: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """An entry's columns, for `record` or a bulk insert (an import's chunk)."""
    return {"at": at or datetime.now(UTC), "actor": by.id, "actor_scope": by.scope,
            "actor_label": _storable(by.label), "entity": entity, "entity_id": entity_id,
            "action": action, "changes": redact(changes), "request_id": by.request_id,
            "note": _storable(note)}


def _storable(text: str | None) -> str | None:
    """Free text without control characters: intake refuses them, but a report from an
    older intake may carry a NUL, which PostgreSQL refuses, and the consumer would retry it
    for ever."""
    return None if text is None else CONTROL_CHARACTERS.sub("", text)


def report_key(event: ReportSubmitted) -> str:
    """The identity of a report version, under which it is recorded once."""
    return f"report/{event.campaign_code}/{event.period}/{event.unit_code}/{event.version}"


def record_on_behalf(session: Session, event: ReportSubmitted, scope: str | None) -> bool:
    """Record a report the Department entered on a unit's behalf, once however often it is
    delivered; whether it was new. (`scope`: the entering credential's, as the registry
    holds it.)"""
    entered = event.entered_by
    assert entered is not None
    by = Actor(entered.credential_id, scope or "department", entered.label)
    entry = row(by, "report", f"{event.campaign_code}/{event.period}/{event.unit_code}",
                "entered_on_behalf", _report_changes(event), note=entered.note,
                at=entered.entered_at) | {"event_key": report_key(event)}
    done = session.execute(insert_on_conflict(session)(AuditEntry).values(**entry)
                           .on_conflict_do_nothing())
    return bool(getattr(done, "rowcount", 0))


def _report_changes(event: ReportSubmitted) -> dict[str, Any]:
    """What an auditor checks a paper report against: its version, its stated receipt and
    the totals per activity kind."""
    totals: dict[str, int] = {}
    for line in event.activities:
        totals[line.kind] = totals.get(line.kind, 0) + line.count
    return {"report_id": event.report_id, "version": event.version,
            "supersedes": event.supersedes, "unit_kind": event.unit_kind,
            "received_at": to_jsonable_python(event.received_at), "on_time": event.on_time,
            "activities": totals}


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a listing of the trail keeps: `since` inclusive, `until` exclusive (UTC)."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def listing(session: Session, filters: Filters, *, limit: int,
            offset: int) -> tuple[Sequence[AuditEntry], int]:
    """A page of the entries that pass, newest first, and how many pass in all."""
    query = _filtered(filters)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return session.exec(query.limit(limit).offset(offset)).all(), total


def every(session: Session, filters: Filters, chunk: int = 1000) -> Iterator[AuditEntry]:
    """Every entry that passes, newest first, read a chunk at a time (a download). Each
    chunk starts after the last entry read (at, id), not at an offset: an entry added
    meanwhile neither repeats one nor hides one."""
    query = _filtered(filters)
    found = session.exec(query.limit(chunk)).all()
    while found:
        yield from found
        last = found[-1]
        found = session.exec(query.where(or_(
            col(AuditEntry.at) < last.at,
            and_(col(AuditEntry.at) == last.at, col(AuditEntry.id) < last.id))
        ).limit(chunk)).all()


def _filtered(filters: Filters) -> Any:
    query = select(AuditEntry)
    for column, wanted in ((AuditEntry.entity, filters.entity),
                           (AuditEntry.entity_id, filters.entity_id),
                           (AuditEntry.actor, filters.actor)):
        if wanted is not None:
            query = query.where(column == wanted)
    if filters.since is not None:  # in UTC, as stored (SQLite keeps no offset)
        query = query.where(col(AuditEntry.at) >= filters.since)
    if filters.until is not None:
        query = query.where(col(AuditEntry.at) < filters.until)
    return query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())


def public(entry: AuditEntry) -> AuditEntryPublic:
    """The API view of an entry."""
    assert entry.id is not None
    return AuditEntryPublic(
        id=entry.id, at=entry.at, entity=entry.entity, entity_id=entry.entity_id,
        actor=AuditActorPublic(id=entry.actor, scope=entry.actor_scope,
                               label=entry.actor_label),
        action=entry.action, changes=entry.changes, request_id=entry.request_id,
        note=entry.note)


def sheet(entries: Iterable[AuditEntry]) -> Sheet:
    """The entries as a table for a spreadsheet (services.web.downloads)."""
    return Sheet("Nhật ký thay đổi", COLUMNS, map(_line, entries),
                 heading="Nhật ký thay đổi dữ liệu của hệ thống (audit trail)")


def _line(entry: AuditEntry) -> Sequence[Any]:
    """An entry as a spreadsheet line: the entity and the action in Vietnamese, their code
    beside them."""
    return (as_utc(entry.at), _who(entry), _named(ENTITIES, entry.entity), entry.entity_id,
            _named(ACTIONS, entry.action),
            json.dumps(entry.changes, ensure_ascii=False, sort_keys=True), entry.note)


def _who(entry: AuditEntry) -> str:
    if entry.actor == "admin":
        return "Quản trị viên (admin)"
    if entry.actor == "system":
        return f"Hệ thống (system): {entry.actor_label}" if entry.actor_label else "Hệ thống"
    return f"{entry.actor_label or ''} ({entry.actor}, {entry.actor_scope or '?'})".strip()


def _named(names: dict[str, tuple[str, str]], code: str) -> str:
    return f"{names[code][0]} ({code})" if code in names else code

