"""Bulk import of units from CSV: every row checked first, then all written or none.

A file with problems imports nothing, unless the caller asks for the good rows. Rows match
existing units by code when the file gives one, else by name (accent placement ignored),
so importing the same file twice changes nothing.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from pydantic import ValidationError
from sqlmodel import Session

from services.registry import service, store
from services.registry.models import Unit
from services.registry.names import name_key, slug, tone_slug
from services.registry.schemas import ImportProblem, ImportReport, UnitCreate
from services.web.errors import capped, left_off

log = structlog.get_logger()
REQUIRED = ("kind", "name")
OPTIONAL = ("code", "admin_code", "active_from", "active_until",
            *service.CONTACT_FIELDS, *service.CHANNEL_FIELDS)
KNOWN = frozenset(REQUIRED + OPTIONAL)


@dataclass
class _Row:
    line: int
    data: UnitCreate
    existing: Unit | None


def import_units(session: Session, raw: bytes, *, good_rows: bool,
                 active_from: date) -> ImportReport:
    """Check every row, then write all of them (or the good ones, when asked)."""
    problems: list[ImportProblem] = []
    rows = _parse(session, raw, problems)
    report = ImportReport(imported=False, rejected=len({p.line for p in problems if p.line > 1}),
                          problems=capped(problems, _more))
    if problems and (not good_rows or any(p.line <= 1 for p in problems)):
        return report
    _write(session, rows, report, active_from)
    return report


def _parse(session: Session, raw: bytes, problems: list[ImportProblem]) -> list[_Row]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(ImportProblem(line=0, field="file", reason=f"not UTF-8: {exc.reason}"))
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not _header_ok(reader.fieldnames or (), problems):
        return []
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    rows: list[_Row] = []
    try:
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        problems.append(ImportProblem(line=reader.line_num, field="file", reason=str(exc)))
        return []
    for line, record in records:
        if not _first_of_name(line, record, seen_names, problems):
            continue
        row = _row(session, line, record, problems)
        if row is not None and _unique_in_file(session, row, seen_codes, problems):
            rows.append(row)
    return rows


def _more(rest: Sequence[ImportProblem]) -> ImportProblem:
    return ImportProblem(line=rest[0].line, field="", reason=f"{left_off(rest)}, from this "
                         "line on")


def _header_ok(columns: Sequence[str], problems: list[ImportProblem]) -> bool:
    for column in REQUIRED:
        if column not in columns:
            problems.append(ImportProblem(line=1, field=column, reason="required column missing"))
    problems.extend(ImportProblem(line=1, field=column, reason="unknown column")
                    for column in columns if column not in KNOWN)
    return not problems


def _row(session: Session, line: int, record: dict[str, Any],
         problems: list[ImportProblem]) -> _Row | None:
    if None in record:
        problems.append(ImportProblem(line=line, field="row", reason="more cells than columns"))
        return None
    given = {k: v.strip() for k, v in record.items() if v and v.strip()}
    body: dict[str, Any] = {k: v for k, v in given.items() if k not in service.CONTACT_FIELDS
                            and k not in service.CHANNEL_FIELDS}
    body["contacts"] = {k: given[k] for k in service.CONTACT_FIELDS if k in given}
    body["channels"] = {k: given[k] for k in service.CHANNEL_FIELDS if k in given}
    try:
        data = UnitCreate.model_validate(body)
    except ValidationError as exc:
        problems.extend(ImportProblem(line=line, field=_column(err["loc"]), reason=err["msg"])
                        for err in exc.errors())
        return None
    existing = (store.get_unit(session, data.code) if data.code
                else store.unit_by_name_key(session, name_key(data.name)))
    return _Row(line=line, data=data, existing=existing)


def _column(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if str(p) not in ("contacts", "channels")]
    return names[0] if names else "row"


def _first_of_name(line: int, record: dict[str, Any], seen: dict[str, int],
                   problems: list[ImportProblem]) -> bool:
    """Names repeat across rows even when one of the rows is bad for another reason."""
    key = name_key(record.get("name") or "")
    if key and key in seen:
        return _reject(problems, line, "name", f"same name as line {seen[key]}")
    seen[key] = line
    return True


def _unique_in_file(session: Session, row: _Row, seen_codes: dict[str, int],
                    problems: list[ImportProblem]) -> bool:
    key = name_key(row.data.name)
    code = row.data.code or (row.existing.code if row.existing else None)
    code = code or _free_code(session, row.data.name, seen_codes)
    if code is None or code in seen_codes:
        where = f" as line {seen_codes[code]}" if code in seen_codes else ""
        return _reject(problems, row.line, "code", f"same code{where}; give a code")
    seen_codes[code] = row.line
    row.data = row.data.model_copy(update={"code": code})
    clash = store.unit_by_name_key(session, key)
    if clash is not None and clash.code != code:
        return _reject(problems, row.line, "name", f"unit {clash.code} already has this name")
    return True


def _free_code(session: Session, name: str, seen: dict[str, int]) -> str | None:
    for candidate in (slug(name), tone_slug(name)):
        if candidate not in seen and store.get_unit(session, candidate) is None:
            return candidate
    return None


def _reject(problems: list[ImportProblem], line: int, field: str, reason: str) -> bool:
    problems.append(ImportProblem(line=line, field=field, reason=reason))
    return False


def _changes(row: _Row) -> dict[str, Any]:
    """The row's fields; a name spelled with the other tone placement is no change."""
    assert row.existing is not None
    changes = service.unit_fields(row.data, partial=True)
    if changes.get("name_key") == row.existing.name_key:
        changes.pop("name"), changes.pop("name_key")
    return changes


def _write(session: Session, rows: list[_Row], report: ImportReport, active_from: date) -> None:
    for row in rows:
        assert row.data.code is not None
        if row.existing is None:
            fields = service.unit_fields(row.data)
            fields["active_from"] = fields["active_from"] or active_from
            unit = Unit(code=row.data.code, **fields)
            service.stage_unit(session, unit, new=True)
            report.created += 1
        elif service.apply_changes(row.existing, _changes(row)):
            service.check_span(row.existing)
            service.stage_unit(session, row.existing, new=False)
            report.updated += 1
        else:
            report.unchanged += 1
    service.commit(session)
    report.imported = True
    log.info("units.imported", created=report.created, updated=report.updated,
             unchanged=report.unchanged, rejected=report.rejected)
