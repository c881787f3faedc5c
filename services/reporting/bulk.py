"""Several periods' reports from one CSV file: one row per activity, one report per period.

Columns: `period` and `kind` on every row, then what the kind needs (`count`, `channel`,
`platform`, `format`, `language`, `people_mobilised`, `shares`, `evidence_url`); a
loudspeaker row gives one `day` and its `count`. An optional `report_id` (one per period)
makes re-sending the file safe, and `note` is kept. A period with any bad row is refused
whole, with each row's reason; the other periods go through.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from services.events import Activity
from services.http import ApiError, field_errors
from services.reporting.schemas import ReportIn

COLUMNS = ("period", "kind", "count", "day", "channel", "platform", "format", "language",
           "people_mobilised", "shares", "evidence_url", "report_id", "note")
_ACTIVITY: TypeAdapter[Activity] = TypeAdapter(Activity)


class RowResult(BaseModel):
    line: int
    period: str
    status: str  # accepted, replayed or rejected
    report_id: str | None = None
    errors: list[dict[str, str]] = []


class BulkResult(BaseModel):
    accepted: int
    replayed: int
    rejected: int
    rows: list[RowResult]


@dataclass
class Group:
    """The rows of one period, and the report they make."""

    period: str
    lines: list[int] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    body: ReportIn | None = None


def read(raw: bytes, campaign: str) -> list[Group]:
    """Parse and check the file; raise 400/422 for a file that cannot be read at all."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "not_utf8", "the CSV file must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _check_header(reader.fieldnames or ())
    groups: dict[str, Group] = {}
    records: list[tuple[int, dict[str, str]]] = []
    try:
        records.extend((reader.line_num, record) for record in reader)
    except csv.Error as exc:
        raise ApiError(422, "bad_csv", f"line {reader.line_num}: {exc}") from None
    for line, record in records:
        cells = {k: v.strip() for k, v in record.items() if k and v and v.strip()}
        period = cells.get("period", "")
        group = groups.setdefault(period, Group(period))
        group.lines.append(line)
        group.rows.append(cells)
    for group in groups.values():
        group.body = _report(group, campaign)
    return list(groups.values())


def _check_header(columns: Iterable[str]) -> None:
    names = list(columns)
    unknown = [c for c in names if c not in COLUMNS]
    missing = [c for c in ("period", "kind") if c not in names]
    if unknown or missing:
        fields = [{"field": c, "rule": "unknown_column", "message": "not a known column"}
                  for c in unknown]
        fields += [{"field": c, "rule": "missing_column", "message": "required column"}
                   for c in missing]
        raise ApiError(422, "bad_header", "the CSV header is wrong", fields)


def _report(group: Group, campaign: str) -> ReportIn | None:
    activities: list[Any] = []
    daily: dict[str, int] = {}
    loudspeaker_lines: list[int] = []
    for line, cells in zip(group.lines, group.rows, strict=True):
        if cells.get("kind") == "loudspeaker_broadcast":
            _add_day(group, line, cells, daily)
            loudspeaker_lines.append(line)
        else:
            activities.append(_activity(group, line, cells))
    if daily:
        activities.append(_activity(group, loudspeaker_lines[0], {
            "kind": "loudspeaker_broadcast", "daily_counts": daily}, raw=True))
    ids = {c["report_id"] for c in group.rows if "report_id" in c}
    if len(ids) > 1:
        _fail(group, group.lines[0], "report_id", "one_id_per_period",
              "rows of one period must share one report_id")
    notes = [c["note"] for c in group.rows if "note" in c]
    if group.errors:
        return None
    try:
        return ReportIn(report_id=next(iter(ids), None), campaign=campaign,
                        period=group.period, activities=activities,
                        note="\n".join(notes) or None)
    except ValidationError as exc:
        for error in field_errors(exc.errors()):
            _fail(group, group.lines[0], error["field"], error["rule"], error["message"])
        return None


def _add_day(group: Group, line: int, cells: dict[str, str], daily: dict[str, int]) -> None:
    count = cells.get("count", "")
    if "day" not in cells or not (count.isascii() and count.isdigit()):
        _fail(group, line, "day", "missing", "a loudspeaker row needs a day and a whole "
              "non-negative count")
        return
    daily[cells["day"]] = daily.get(cells["day"], 0) + int(count)


def _activity(group: Group, line: int, cells: dict[str, Any], *, raw: bool = False) -> Any:
    data = cells if raw else {k: v for k, v in cells.items()
                              if k not in ("period", "report_id", "note", "day", "evidence_url")}
    if not raw and "evidence_url" in cells:
        data["evidence_urls"] = [cells["evidence_url"]]
    try:
        return _ACTIVITY.validate_python(data)
    except ValidationError as exc:
        for error in field_errors(exc.errors()):
            _fail(group, line, error["field"], error["rule"], error["message"])
        return None


def _fail(group: Group, line: int, field_name: str, rule: str, message: str) -> None:
    group.errors.setdefault(line, []).append(
        {"field": field_name, "rule": rule, "message": message})


def rejected(group: Group, refusal: ApiError | None = None) -> list[RowResult]:
    """Every row of a refused period, each with its own reasons or the period's."""
    shared = refusal.fields or [{"field": "", "rule": refusal.code, "message": refusal.message}] \
        if refusal else []
    return [RowResult(line=line, period=group.period, status="rejected",
                      errors=group.errors.get(line, []) + shared) for line in group.lines]


def accepted(group: Group, report_id: str, replayed: bool) -> list[RowResult]:
    status = "replayed" if replayed else "accepted"
    return [RowResult(line=line, period=group.period, status=status, report_id=report_id)
            for line in group.lines]
