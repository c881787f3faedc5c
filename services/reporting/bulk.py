"""Several periods' reports from one CSV file: one row per activity, one report per period.

Columns: `period` and `kind` on every row, then what the kind needs (`count`, `channel`,
`platform`, `format`, `language`, `people_mobilised`, `shares`, `evidence_url`); a
loudspeaker row gives one `day` and its `count`. An optional `report_id` (one per period)
makes re-sending the file safe, and `note` is kept. A period with any bad row is refused
whole, with each row's reason; the other periods go through.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from services.events import Activity
from services.refusals import (
    MAX_LISTED,
    MORE_PROBLEMS,
    FieldProblem,
    Invalid,
    Malformed,
    Refusal,
    capped,
    field_errors,
    left_off,
)
from services.reporting.schemas import ReportIn, RowProblem, RowResult

COLUMNS = ("period", "kind", "count", "day", "channel", "platform", "format", "language",
           "people_mobilised", "shares", "evidence_url", "report_id", "note")
_KNOWN = frozenset(COLUMNS)
_ACTIVITY: TypeAdapter[Activity] = TypeAdapter(Activity)
_DAY: TypeAdapter[date] = TypeAdapter(date)


@dataclass
class Group:
    """The rows of one period, and the report they make."""

    period: str
    lines: list[int] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: dict[int, list[FieldProblem]] = field(default_factory=dict)  # by line
    body: ReportIn | None = None


def read(raw: bytes, campaign: str) -> list[Group]:
    """Parse and check the file, one group per period; a file that cannot be read at all
    (not UTF-8, not CSV, a wrong header) is refused whole."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Malformed("not_utf8", "the CSV file must be UTF-8") from None
    groups: dict[str, Group] = {}
    for line, cells, overflows in _records(text):
        period = cells.get("period", "")
        group = groups.setdefault(period, Group(period))
        group.lines.append(line)
        group.rows.append(cells)
        if overflows:
            _fail(group, line, "row", "extra_cells", "more cells than columns; quote a cell "
                  "that holds a comma")
    for group in groups.values():
        group.body = _report(group, campaign)
    return list(groups.values())


def _records(text: str) -> list[tuple[int, dict[str, str], bool]]:
    """Each row's first line (a quoted cell may span several), its non-empty cells by
    column, and whether it has text beyond the last column. Blank lines are skipped."""
    rows = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, dict[str, str], bool]] = []
    start = 1
    try:
        header = [name.strip() for name in next(rows, [])]
        _check_header(header)
        start = rows.line_num + 1
        for row in rows:
            if row:
                cells = {name: value.strip() for name, value in zip(header, row, strict=False)
                         if value.strip()}
                records.append((start, cells, any(v.strip() for v in row[len(header):])))
            start = rows.line_num + 1
    except csv.Error as exc:
        # line_num is where the reader stopped, perhaps many lines into a quoted cell over
        # the size limit: name the line the row starts on, as for every other problem
        raise Invalid("bad_csv", f"line {start}: {exc}") from None
    return records


def _check_header(names: list[str]) -> None:
    # A header may hold a million columns, read on the event loop: only the problems that
    # are listed are made (a tuple costs a tenth of a FieldProblem).
    found = [(c, "unknown_column", "not a known column") for c in names if c not in _KNOWN]
    found += [(c, "missing_column", "required column") for c in ("period", "kind")
              if c not in names]
    if found:
        listed = capped(found, lambda rest: ("", MORE_PROBLEMS, left_off(rest)))
        raise Invalid("bad_header", "the CSV header is wrong",
                      [FieldProblem(*problem) for problem in listed])


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
    report_id = _report_id(group)
    notes = [c["note"] for c in group.rows if "note" in c]
    if group.errors:
        return None
    try:
        return ReportIn(report_id=report_id, campaign=campaign, period=group.period,
                        activities=activities, note="\n".join(notes) or None)
    except ValidationError as exc:
        for problem in field_errors(exc.errors()):
            _fail(group, group.lines[0], problem.field, problem.rule, problem.message)
        return None


def _report_id(group: Group) -> str | None:
    """The period's report_id, from the first row that gives one; a row giving another is
    at fault."""
    given = [(line, c["report_id"]) for line, c in zip(group.lines, group.rows, strict=True)
             if "report_id" in c]
    for line, other in given[1:]:
        if other != given[0][1]:
            _fail(group, line, "report_id", "one_id_per_period", f"rows of one period must "
                  f"share one report_id; line {given[0][0]} gives {given[0][1]!r}")
    return given[0][1] if given else None


def _add_day(group: Group, line: int, cells: dict[str, str], daily: dict[str, int]) -> None:
    """Add a loudspeaker row's count to its day; each row names one day."""
    count = cells.get("count", "")
    if not (count.isascii() and count.isdigit()):
        _fail(group, line, "count", "whole_number", "a loudspeaker row needs its day's count, "
              "a whole non-negative number")
    if "day" not in cells:
        _fail(group, line, "day", "missing", "a loudspeaker row needs the day it counts")
        return
    try:
        day = _DAY.validate_python(cells["day"]).isoformat()
    except ValidationError as exc:
        for problem in field_errors(exc.errors()):
            _fail(group, line, "day", problem.rule, problem.message)
        return
    if line not in group.errors:
        daily[day] = daily.get(day, 0) + int(count)


def _activity(group: Group, line: int, cells: dict[str, Any], *, raw: bool = False) -> Any:
    data = cells if raw else {k: v for k, v in cells.items()
                              if k not in ("period", "report_id", "note", "day", "evidence_url")}
    if not raw and "evidence_url" in cells:
        data["evidence_urls"] = [cells["evidence_url"]]
    try:
        return _ACTIVITY.validate_python(data)
    except ValidationError as exc:
        for problem in field_errors(exc.errors()):
            _fail(group, line, problem.field, problem.rule, problem.message)
        return None


def _fail(group: Group, line: int, field_name: str, rule: str, message: str) -> None:
    group.errors.setdefault(line, []).append(FieldProblem(field_name, rule, message))


def rejected(group: Group, refusal: Refusal | None = None) -> list[RowResult]:
    """Every row of a refused period, each with its own reasons or the period's."""
    shared = (refusal.fields or [FieldProblem("", refusal.code, refusal.message)]) \
        if refusal else []
    return [RowResult(line=line, period=group.period, status="rejected",
                      errors=[RowProblem(**p.as_dict()) for p in group.errors.get(line, [])
                              + shared]) for line in group.lines]


def listed(rows: list[RowResult]) -> list[RowResult]:
    """The rows by line, the file's problems capped as every error list is: past the first
    MAX_LISTED, a row keeps its status but not its reasons, and the row of the first one
    left off ends with a `more_problems` entry counting them all."""
    ordered = sorted(rows, key=lambda r: r.line)
    located = [(row, problem) for row in ordered for problem in row.errors]
    if len(located) > MAX_LISTED:
        for row in ordered:
            row.errors = []
        for row, problem in capped(located, _more):
            row.errors.append(problem)
    return ordered


def _more(rest: Sequence[tuple[RowResult, RowProblem]]) -> tuple[RowResult, RowProblem]:
    return rest[0][0], RowProblem(field="", rule=MORE_PROBLEMS,
                                  message=left_off(rest) + ", from this line on")


def accepted(group: Group, report_id: str, replayed: bool) -> list[RowResult]:
    """Every row of a stored (or replayed) period, with its report's id."""
    status: Literal["accepted", "replayed"] = "replayed" if replayed else "accepted"
    return [RowResult(line=line, period=group.period, status=status, report_id=report_id)
            for line in group.lines]
