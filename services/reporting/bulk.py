"""Several periods' reports from one file, CSV or Excel workbook: one row per activity, one
report per period.

Columns: `period` and `kind` on every row, then what the kind needs (`count`, `channel`,
`platform`, `format`, `language`, `people_mobilised`, `shares`, `evidence_url`); a
loudspeaker row gives one `day` and its `count`. An optional `report_id` (one per period)
makes re-sending the file safe, and `note` is kept. A period with any bad row is refused
whole, with each row's reason; the other periods go through.

A column is named by its code or by its Vietnamese header (HEADERS), and a second header
row of the codes, as the template has, is skipped; rows above the header (the template's
title and instructions) are skipped too. A CSV file is UTF-8 (with or without a byte order
mark), its cells separated by commas, semicolons or tabs (whichever the first line uses
most). Kinds, channels, platforms, formats and languages are given by code or by their
Vietnamese names (services.labels); a day as 2026-02-09, 09/02/2026 or 9/2/2026 (day
first, always) or an Excel date; a whole number written as text may group its thousands
with dots, commas or spaces (1.234): a count has no fraction, so that reading is the only
one (a workbook's number cell with a fraction is refused). A CSV row is numbered as a
spreadsheet shows it, however many lines its quoted cells span.
"""

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

from openpyxl import load_workbook
from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel
from pydantic import TypeAdapter, ValidationError

from services import labels, periods
from services.events import Activity, ReportingPeriod
from services.refusals import (
    MAX_LISTED,
    MORE_PROBLEMS,
    FieldProblem,
    Invalid,
    Malformed,
    Refusal,
    TooLarge,
    capped,
    field_errors,
    left_off,
)
from services.reporting.schemas import ReportIn, RowProblem, RowResult

COLUMNS = ("period", "kind", "count", "day", "channel", "platform", "format", "language",
           "people_mobilised", "shares", "evidence_url", "report_id", "note")
# What a person reads over each column (the template's first header row); a file may name
# its columns by these or by the codes.
HEADERS: dict[str, str] = {
    "period": "Kỳ báo cáo", "kind": "Loại hoạt động", "count": "Số lượng",
    "day": "Ngày phát thanh", "channel": "Kênh đăng tải", "platform": "Nền tảng mạng xã hội",
    "format": "Hình thức", "language": "Ngôn ngữ", "people_mobilised": "Số người tham gia",
    "shares": "Số lượt chia sẻ", "evidence_url": "Đường dẫn minh chứng",
    "report_id": "Mã báo cáo", "note": "Ghi chú"}
# The columns whose cells are one of a list, each by its code or its names
CHOICES: dict[str, dict[str, tuple[str, str]]] = {
    "kind": labels.ACTIVITY_KINDS, "channel": labels.CHANNELS, "platform": labels.PLATFORMS,
    "format": labels.FORMATS, "language": labels.LANGUAGES}
WHOLE_NUMBERS = ("count", "people_mobilised", "shares")
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A workbook is a zip file: one that would unpack past this, or hold more rows, is refused
# before it fills the memory (5 MB of zip can hold gigabytes of repeated text).
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 64  # of a workbook's rows, read; the format has 13
HEADER_SEARCH = 50  # rows in which the header is looked for
SAVE_AS = ("Trong Excel, chọn Lưu thành (Save As), kiểu tệp “CSV UTF-8 (phân cách bằng dấu "
           "phẩy)”, hoặc tải lên tệp .xlsx / In Excel, use Save As with the file type “CSV "
           "UTF-8 (Comma delimited)”, or upload the .xlsx workbook")
_ACTIVITY: TypeAdapter[Activity] = TypeAdapter(Activity)
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?")
_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_SERIAL = re.compile(r"\d{1,7}(?:\.0*)?")
_GROUPED = re.compile(r"\d{1,3}(?:([.,\u00a0 ])\d{3})(?:\1\d{3})*")
_QUOTED = re.compile(r'"[^"]*"')


def _key(text: str) -> str:
    """What two spellings of one name share: NFC, case and runs of spaces aside."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


_COLUMN_OF = {_key(name): code for code, name in HEADERS.items()} | {c: c for c in COLUMNS}
_CHOICE_OF = {column: {_key(name): code for code, names in choices.items()
                       for name in (code, *names)} for column, choices in CHOICES.items()}


@dataclass
class Group:
    """The rows of one period, and the report they make."""

    period: str
    lines: list[int] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: dict[int, list[FieldProblem]] = field(default_factory=dict)  # by line
    body: ReportIn | None = None


@dataclass
class Record:
    """A row of the table: where it starts, its non-empty cells by column, and what is
    wrong with its cells as read (before any rule of a report)."""

    line: int
    cells: dict[str, str]
    problems: list[FieldProblem]


def read(raw: bytes, campaign: str, media: str = CSV) -> list[Group]:
    """Parse and check the file, one group per period; a file that cannot be read at all
    (not UTF-8, not CSV, not a workbook, a wrong header) is refused whole."""
    if media == XLSX or raw.startswith(b"PK\x03\x04"):
        book = _workbook(raw)
        rows, epoch = _workbook_rows(book), book.epoch
    else:
        rows, epoch = _csv_rows(_text(raw)), CALENDAR_WINDOWS_1900
    groups: dict[str, Group] = {}
    for record in _records(rows, epoch):
        period = record.cells.get("period", "")
        group = groups.setdefault(period, Group(period))
        group.lines.append(record.line)
        group.rows.append(record.cells)
        group.errors.update({record.line: record.problems} if record.problems else {})
    for group in groups.values():
        group.body = _report(group, campaign)
    return list(groups.values())


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise Malformed("not_utf8", f"Tệp CSV không ở bảng mã UTF-8 (từ dòng {line}; có thể "
                        f"là Windows-1258 hoặc Windows-1252). {SAVE_AS}. / The CSV file is not "
                        f"UTF-8 (from line {line}; Windows-1258 or Windows-1252, perhaps).") \
            from None


def _csv_rows(text: str) -> Iterator[tuple[int, list[Any]]]:
    """Each row with its number as a spreadsheet shows it: a quoted cell spanning several
    lines (the template's instructions) is still one row."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    number = 0
    try:
        for number, row in enumerate(rows, 1):
            yield number, row
    except csv.Error as exc:
        raise Invalid("bad_csv", f"line {number + 1}: {exc}") from None


def _delimiter(text: str) -> str:
    """The separator the first line uses most, outside quotes (a comma when it has none):
    Excel in a Vietnamese locale writes semicolons."""
    first = _QUOTED.sub("", text[:text.find("\n")] if "\n" in text else text)
    return max((",", ";", "\t"), key=first.count)


def _workbook_rows(book: Any) -> Iterator[tuple[int, list[Any]]]:
    """The first visible sheet's rows, numbered as the sheet shows them; values as last
    calculated (a formula never calculated, as a script writes one, reads as empty). The
    sheet is parsed as it is read: a damaged one is refused here, as at opening."""
    sheet = next((s for s in book.worksheets if s.sheet_state == "visible"), None)
    if sheet is None:
        raise Invalid("no_sheet", "Tệp không có trang tính nào / the workbook has no sheet")
    # Read-only openpyxl stops at the sheet's declared <dimension>, which some tools write
    # short: read every row (MAX_ROWS bounds them).
    sheet.reset_dimensions()
    try:
        for number, row in enumerate(sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS), 1):
            if number > MAX_ROWS:
                raise TooLarge("too_many_rows", f"Bảng tính có hơn {MAX_ROWS} dòng / the "
                               f"sheet has more than {MAX_ROWS} rows")
            yield number, [_Error(c.value) if c.data_type == "e" else c.value for c in row]
    except Refusal:
        raise
    except Exception:  # XML cut short, a number cell of letters: whatever the parser raises
        raise _not_xlsx() from None


def _not_xlsx() -> Malformed:
    return Malformed("not_xlsx", "Tệp không phải bảng tính Excel .xlsx hợp lệ (tệp .xls cũ: "
                     "hãy lưu lại thành .xlsx) / the body is not a valid .xlsx workbook (an "
                     "old .xls file: save it as .xlsx)")


def _workbook(raw: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as packed:
            unpacked = sum(member.file_size for member in packed.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise TooLarge("workbook_too_large", f"Bảng tính giải nén ra hơn "
                           f"{MAX_UNPACKED_BYTES} byte / the workbook unpacks to more than "
                           f"{MAX_UNPACKED_BYTES} bytes")
        return load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Refusal:
        raise
    except Exception:  # openpyxl raises what its parts raise: zip, XML, key and value errors
        raise _not_xlsx() from None


@dataclass(frozen=True)
class _Error:
    """A workbook cell holding an error value, such as #N/A or #VALUE!."""

    value: Any


def _records(rows: Iterator[tuple[int, list[Any]]], epoch: datetime) -> Iterator[Record]:
    """The rows after the header (itself after any title or instructions), blank ones
    skipped, and the row of codes under the header when there is one; a day's number is
    counted from `epoch` (a workbook's own: 1900, or 1904 for some made on a Mac)."""
    columns = _check_header(_header(rows))
    first = True  # the first row after the header may repeat the codes, as the template's
    for line, row in rows:
        if not any(_shown(value) for value in row):
            continue
        if first and _is_codes_row(columns, row):
            first = False
            continue
        first = False
        yield _record(line, columns, row, epoch)


def _header(rows: Iterator[tuple[int, list[Any]]]) -> list[Any]:
    """The first row naming at least two known columns, among the first HEADER_SEARCH; the
    first row when none does (a header without both `period` and `kind`, to be refused)."""
    first: list[Any] | None = None
    for line, row in rows:
        first = row if first is None else first
        if sum(_key(_shown(value)) in _COLUMN_OF for value in row[:2 * len(COLUMNS)]) >= 2:
            return row
        if line >= HEADER_SEARCH:
            break
    return first or []


def _check_header(names: list[Any]) -> list[str | None]:
    """Each column's code; a header naming an unknown column, or without `period` and
    `kind`, is refused. Empty cells after the last name are no columns."""
    shown = [_shown(name) for name in names]
    while shown and not shown[-1]:
        shown.pop()
    columns = [_COLUMN_OF.get(_key(name)) for name in shown]
    # A header may hold a million columns, read on the event loop: only the problems that
    # are listed are made (a tuple costs a tenth of a FieldProblem).
    found = [(name, "unknown_column", "not a known column")
             for name, code in zip(shown, columns, strict=True) if code is None]
    found += [(c, "missing_column", "required column") for c in ("period", "kind")
              if c not in columns]
    if found:
        listed = capped(found, lambda rest: ("", MORE_PROBLEMS, left_off(rest)))
        raise Invalid("bad_header", "Tiêu đề cột không đúng / the header is wrong",
                      [FieldProblem(*problem) for problem in listed])
    return list(columns)


def _is_codes_row(columns: Sequence[str | None], row: list[Any]) -> bool:
    given = [(code, _shown(value)) for code, value in zip(columns, row, strict=False)
             if _shown(value)]
    return len(given) >= 2 and all(code == value for code, value in given)


def _record(line: int, columns: Sequence[str | None], row: list[Any],
            epoch: datetime = CALENDAR_WINDOWS_1900) -> Record:
    """A row's cells by column, each as text the report's rules read."""
    cells: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for code, value in zip(columns, row, strict=False):
        if code is None:
            continue
        if isinstance(value, _Error):
            problems.append(FieldProblem(code, "formula_error", f"the cell holds the error "
                                         f"{value.value}"))
        elif code in WHOLE_NUMBERS and isinstance(value, float) and not value.is_integer():
            # a number cell is a number: 1.234 there is not 1234 (only text groups thousands)
            problems.append(FieldProblem(code, "int_from_float", f"a whole number is "
                                         f"expected; the cell holds {value!r}, a number with "
                                         "a fraction"))
        elif text := _cell(code, value, epoch):
            cells[code] = text
    if any(_shown(value) for value in row[len(columns):]):
        problems.append(FieldProblem("row", "extra_cells", "more cells than columns; in a "
                                     "CSV file, quote a cell that holds the separator"))
    return Record(line, cells, problems)


def _shown(value: Any) -> str:
    """A cell as text: what a person sees in it, spaces around aside."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _cell(code: str, value: Any, epoch: datetime = CALENDAR_WINDOWS_1900) -> str:
    """A cell as the rules read it: a choice by its code, a day in ISO form, a whole number
    written as text without its thousands separators; anything else as it is (for the rule
    to name)."""
    if code == "day":
        day = _day(value, epoch)
        return day.isoformat() if day is not None else _shown(value)
    text = _shown(value)
    if code in _CHOICE_OF:
        return _CHOICE_OF[code].get(_key(text), text)
    if code in WHOLE_NUMBERS and isinstance(value, str) and _GROUPED.fullmatch(text):
        return re.sub(r"\D", "", text)
    return text


def _day(value: Any, epoch: datetime = CALENDAR_WINDOWS_1900) -> date | None:
    """A day written 2026-02-09, 09/02/2026 or 9/2/2026 (the day first: never the month),
    or a workbook's date or serial number (counted from its epoch); None for anything
    else."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _shown(value)
    try:
        if match := _ISO_DAY.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _DAY_FIRST.fullmatch(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
        if _SERIAL.fullmatch(text) and 0 < float(text) < 2_958_466:  # to 31/12/9999
            found = from_excel(float(text), epoch)
            return found.date() if isinstance(found, datetime) else None
    except (ValueError, OverflowError):
        return None
    return None


@dataclass
class _Broadcasts:
    """A period's loudspeaker rows, on their way to its one loudspeaker line: each day's
    count (two rows of one day are added together), and the rows giving each day and each
    evidence link, so that a problem is named on the rows that cause it."""

    daily: dict[str, int] = field(default_factory=dict)
    days: dict[str, list[int]] = field(default_factory=dict)  # a day's lines
    links: list[tuple[int, str]] = field(default_factory=list)  # (line, evidence_url)


def _report(group: Group, campaign: str) -> ReportIn | None:
    activities: list[Any] = []
    broadcasts = _Broadcasts()
    for line, cells in zip(group.lines, group.rows, strict=True):
        if line in group.errors:  # its cells could not be read: its rules would say no more
            continue
        if cells.get("kind") == "loudspeaker_broadcast":
            _add_day(group, line, cells, broadcasts)
        else:
            activities.append(_activity(group, line, cells))
    _check_days(group, broadcasts)
    if broadcasts.daily:
        activities.append(_broadcast(group, broadcasts))
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


def _add_day(group: Group, line: int, cells: dict[str, str], broadcasts: _Broadcasts) -> None:
    """Add a loudspeaker row's count to its day; each row names one day, and is checked
    alone as a loudspeaker line first (its day's limit, its link, no other kind's column)."""
    count = cells.get("count", "")
    if not (count.isascii() and count.isdigit()):
        _fail(group, line, "count", "whole_number", "a loudspeaker row needs its day's count, "
              "a whole non-negative number")
    if "day" not in cells:
        _fail(group, line, "day", "missing", "a loudspeaker row needs the day it counts")
        return
    try:
        day = date.fromisoformat(cells["day"]).isoformat()
    except ValueError:
        _fail(group, line, "day", "day_format", "write the day as dd/mm/yyyy (09/02/2026: "
              "the day first) or yyyy-mm-dd")
        return
    if line in group.errors:
        return
    # a count past int's digits is left as text, for the rule to refuse
    given = int(count) if len(count) <= 18 else count
    alone = _activity(group, line, {k: v for k, v in cells.items() if k != "count"}
                      | {"daily_counts": {day: given}})
    if alone is None:
        return
    broadcasts.daily[day] = broadcasts.daily.get(day, 0) + alone.count
    broadcasts.days.setdefault(day, []).append(line)
    broadcasts.links += [(line, cells["evidence_url"])] if "evidence_url" in cells else []


def _check_days(group: Group, broadcasts: _Broadcasts) -> None:
    """Each day outside the period, on the rows giving it (the JSON intake refuses it
    too, for the whole report); a day that is in the period once its day and month are
    swapped (Excel set to read dates month first) is said to be so."""
    try:
        kind = ReportingPeriod.iso_week if "W" in group.period else ReportingPeriod.month
        start, end = periods.bounds(group.period, kind)
    except periods.PeriodError:
        return  # the period itself is refused, for every row
    for written, lines in broadcasts.days.items():
        day = date.fromisoformat(written)
        if start <= day <= end:
            continue
        said = (f"ngày {periods.written_day(day)} nằm ngoài kỳ báo cáo {group.period} "
                f"({periods.written_day(start)} – {periods.written_day(end)})")
        message = f"{day} is not in the period ({start} to {end})"
        swapped = _swapped(day)
        if swapped is not None and start <= swapped <= end:
            said += "; có thể đã nhầm ngày và tháng"
            message += f"; day and month may be swapped ({swapped})"
        for line in lines:
            _fail(group, line, "day", "day_outside_period", message, said)


def _swapped(day: date) -> date | None:
    try:
        return date(day.year, day.day, day.month)
    except ValueError:
        return None


def _broadcast(group: Group, broadcasts: _Broadcasts) -> Any:
    """The period's one loudspeaker line; a problem of it goes to the rows of its day or
    link (the sum of a day given on several rows over the day's limit), else to every
    loudspeaker row."""
    data: dict[str, Any] = {"kind": "loudspeaker_broadcast", "daily_counts": broadcasts.daily}
    if broadcasts.links:
        data["evidence_urls"] = [link for _, link in broadcasts.links]
    try:
        return _ACTIVITY.validate_python(data)
    except ValidationError as exc:
        for problem in field_errors(exc.errors()):
            lines, said = _lines_of(broadcasts, problem.field), ""
            message = problem.message
            if problem.field.split(".")[-1] in broadcasts.days and len(lines) > 1:
                listed = ", ".join(str(line) for line in lines)
                message = f"lines {listed} give the same day, added together: {message}"
                said = (f"các dòng {listed} cùng một ngày, được cộng lại: "
                        f"{RULES_VI.get(problem.rule, problem.rule)}")
            for line in lines:
                _fail(group, line, problem.field, problem.rule, message, said)
        return None


def _lines_of(broadcasts: _Broadcasts, field_name: str) -> list[int]:
    """The rows a problem of the period's loudspeaker line comes from."""
    parts = field_name.split(".")
    every = sorted({line for lines in broadcasts.days.values() for line in lines})
    if "daily_counts" in parts and parts[-1] in broadcasts.days:
        return broadcasts.days[parts[-1]]
    if "evidence_urls" in parts and parts[-1].isdigit() \
            and int(parts[-1]) < len(broadcasts.links):
        return [broadcasts.links[int(parts[-1])][0]]
    return every


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


def _fail(group: Group, line: int, field_name: str, rule: str, message: str,
          said: str = "") -> None:
    problem = _Said(field_name, rule, message, said) if said else \
        FieldProblem(field_name, rule, message)
    group.errors.setdefault(line, []).append(problem)


@dataclass(frozen=True)
class _Said(FieldProblem):
    """A problem whose Vietnamese says more than its rule's words (the days it is about)."""

    said: str = ""


def rejected(group: Group, refusal: Refusal | None = None) -> list[RowResult]:
    """Every row of a refused period, each with its own reasons or the period's."""
    shared = (refusal.fields or [FieldProblem("", refusal.code, refusal.message)]) \
        if refusal else []
    return [RowResult(line=line, period=group.period, status="rejected",
                      errors=[problem_of(line, p) for p in group.errors.get(line, []) + shared])
            for line in group.lines]


def problem_of(line: int, problem: FieldProblem) -> RowProblem:
    """A problem as the answer lists it: the column by its header and code, and the rule
    in words, Vietnamese first."""
    code = column_of(problem.field, problem.rule)
    header = HEADERS.get(code, "")
    where = f", cột “{header}” ({code})" if code else ""
    where_en = f", column “{header}” ({code})" if code else ""
    said = problem.said if isinstance(problem, _Said) else \
        RULES_VI.get(problem.rule, f"không đúng quy tắc {problem.rule}")
    return RowProblem(**problem.as_dict(), column=header, column_code=code, explanation=(
        f"Dòng {line}{where}: {said} / Line {line}{where_en}: {problem.message}"))


def column_of(field_name: str, rule: str) -> str:
    """The column a problem's field is read from (`banner.count`: count), if any: a day's
    count (`daily_counts.2026-01-20`) is the count column's, the days themselves the day's."""
    parts = field_name.split(".")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in HEADERS:
            return parts[index]
        if parts[index] == "evidence_urls":
            return "evidence_url"
        if parts[index] == "daily_counts":
            return "day" if index == len(parts) - 1 else "count"
    return "kind" if rule.startswith("union_tag") else ""


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
    row, message = rest[0][0], left_off(rest) + ", from this line on"
    return row, RowProblem(field="", rule=MORE_PROBLEMS, message=message, explanation=(
        f"Dòng {row.line}: từ dòng này còn {len(rest)} lỗi không liệt kê / Line {row.line}: "
        f"{message}"))


def accepted(group: Group, report_id: str, replayed: bool) -> list[RowResult]:
    """Every row of a stored (or replayed) period, with its report's id."""
    status: Literal["accepted", "replayed"] = "replayed" if replayed else "accepted"
    return [RowResult(line=line, period=group.period, status=status, report_id=report_id)
            for line in group.lines]


# What each rule means, in Vietnamese (the English is each problem's message)
RULES_VI: dict[str, str] = {
    "missing": "ô này không được để trống",
    "whole_number": "phải là số nguyên không âm",
    "int_parsing": "phải là số nguyên (ví dụ 3 hoặc 1.234)",
    "int_type": "phải là số nguyên",
    "int_from_float": "phải là số nguyên, không có phần lẻ",
    "int_parsing_size": "số quá lớn",
    "greater_than_equal": "không được là số âm",
    "less_than_equal": "lớn hơn mức cho phép",
    "enum": "không có trong danh sách: hãy chọn trong danh sách thả xuống",
    "literal_error": "không có trong danh sách: hãy chọn trong danh sách thả xuống",
    "union_tag_invalid": "loại hoạt động không có trong danh sách",
    "union_tag_not_found": "cần ghi loại hoạt động",
    "extra_forbidden": "cột này không dùng cho loại hoạt động này",
    "url_parsing": "đường dẫn không hợp lệ (cần dạng https://...)",
    "url_scheme": "đường dẫn phải bắt đầu bằng http:// hoặc https://",
    "url_type": "đường dẫn không hợp lệ",
    "string_too_long": "quá dài",
    "too_long": "quá nhiều mục",
    "value_error": "giá trị không hợp lệ",
    "day_format": "ngày phải viết dạng dd/mm/yyyy (ví dụ 09/02/2026, ngày trước tháng) "
                  "hoặc yyyy-mm-dd",
    "day_outside_period": "ngày nằm ngoài kỳ báo cáo",
    "period_format": "kỳ báo cáo phải có dạng như 2026-W04",
    "period_outside_campaign": "kỳ báo cáo nằm ngoài thời gian của chiến dịch",
    "unit_retired": "đơn vị đã thôi hoạt động trước kỳ này",
    "unit_not_active": "đơn vị chưa hoạt động trong kỳ này",
    "unit_kind_not_expected": "chiến dịch không yêu cầu loại đơn vị này báo cáo",
    "campaign_unknown": "không có chiến dịch này",
    "campaign_not_running": "chiến dịch không nhận báo cáo lúc này",
    "report_too_large": "báo cáo quá lớn",
    "report_id_reused": "mã báo cáo đã dùng cho một báo cáo khác",
    "concurrent_revision": "kỳ này đang được gửi cùng lúc: hãy gửi lại tệp",
    "extra_cells": "dòng có nhiều ô hơn số cột (tệp CSV: đặt ô chứa dấu phân cách trong "
                   "ngoặc kép)",
    "one_id_per_period": "các dòng của một kỳ phải cùng một mã báo cáo",
    "formula_error": "ô chứa lỗi công thức (như #N/A, #VALUE!): hãy nhập giá trị",
    MORE_PROBLEMS: "còn lỗi khác không liệt kê",
}
