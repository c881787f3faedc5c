"""Workbooks that Excel and LibreOffice open as a Vietnamese user expects, in any locale: one
sheet per table, the Vietnamese headers in the first row and the English codes in the second
(what scripts and the JSON feeds call each column), the headers frozen and filtered, numbers,
ratios and dates as numbers with their formats, yes and no as Có and Không, and text (a unit
named `=HYPERLINK(...)`) always stored as text, never as a formula."""

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services import periods
from services.memory import collector_paused

Kind = Literal["text", "int", "number", "ratio", "bool", "date", "datetime"]
FORMATS: dict[str, str] = {"int": "#,##0", "number": "#,##0.0#", "ratio": "0.0%",
                           "date": "dd/mm/yyyy", "datetime": "dd/mm/yyyy hh:mm:ss"}
YES, NO = "Có", "Không"
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What XML 1.0 cannot hold (openpyxl and Word refuse a file carrying one): control
# characters, lone surrogates and the two non-characters; dropped from text (xml_text).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER = Font(bold=True)
_CODE = Font(italic=True, color="666666", size=9)
_FILL = PatternFill("solid", fgColor="DDEBF7")
_TITLE = Font(bold=True, size=12)


@dataclass(frozen=True)
class Column:
    """A column: its code (the JSON field, the second header row), its Vietnamese header
    and what its cells hold."""

    code: str
    header: str
    kind: Kind = "text"
    width: int | None = None

    def shown_width(self) -> int:
        return self.width or max(10, min(40, len(self.header) + 4))


@dataclass
class Sheet:
    """A table: `rows` hold one value per column, in the columns' order; `heading` (what the
    table is, as of when) and then `notes` (how to read it) go above the headers, so that
    nothing but the table's rows comes under them."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    heading: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)


def xlsx(sheets: Sequence[Sheet]) -> bytes:
    """The sheets as an .xlsx file. Written row by row (openpyxl's write-only mode): 5,000
    units' annex takes a fraction of a second and little memory."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    out = io.BytesIO()
    with collector_paused():  # a cell object per value (services.memory)
        for sheet in sheets:
            _write(book.create_sheet(_title(sheet.title, taken)), sheet)
        book.save(out)
    return out.getvalue()


def _title(title: str, taken: set[str]) -> str:
    """A sheet's name as Excel allows it: 31 characters, none of []:*?/\\, no `'` at
    either end, not empty, not `History` (Excel's own), none twice (Excel compares them
    without case): a repeated one is numbered within the 31."""
    shown = re.sub(r"[\[\]:*?/\\]", "-", xml_text(title))[:31].strip("'").strip() or "Bảng"
    found, number = shown, 1
    while found.casefold() in taken or found.casefold() == "history":
        number += 1
        found = f"{shown[:31 - len(str(number)) - 3].rstrip()} ({number})"
    taken.add(found.casefold())
    return found


def _write(target: Worksheet, sheet: Sheet) -> None:
    columns = sheet.columns
    for number, column in enumerate(columns, 1):
        target.column_dimensions[get_column_letter(number)].width = column.shown_width()
    above = [*([] if sheet.heading is None else [sheet.heading]), *sheet.notes]
    top = 1 + len(above)  # the Vietnamese headers' row
    # Set before the first row: write-only mode writes what comes before the rows first.
    target.freeze_panes = f"A{top + 2}"
    # Printed or made a PDF: across the page, as wide as the page, the headers on each one.
    target.page_setup.orientation = "landscape"
    target.page_setup.fitToWidth, target.page_setup.fitToHeight = 1, 0
    target.sheet_properties.pageSetUpPr.fitToPage = True
    target.print_title_rows = f"{top}:{top + 1}"
    for number, line in enumerate(above):
        cell = WriteOnlyCell(target, value=xml_text(line))
        if number == 0 and sheet.heading is not None:
            cell.font = _TITLE
        target.append([_as_text(cell)])
    headers, codes = [], []
    for column in columns:
        header = _as_text(WriteOnlyCell(target, value=column.header))
        header.font, header.fill = _HEADER, _FILL
        header.alignment = Alignment(wrap_text=True, vertical="center")
        code = _as_text(WriteOnlyCell(target, value=column.code))
        code.font = _CODE
        headers.append(header)
        codes.append(code)
    target.append(headers)
    target.append(codes)
    count = 0
    for count, row in enumerate(sheet.rows, 1):  # noqa: B007 (the count is read below)
        target.append([_cell(target, column, value) for column, value in zip(columns, row,
                                                                              strict=True)])
    last = get_column_letter(len(columns))
    target.auto_filter.ref = f"A{top + 1}:{last}{top + 1 + count}"


def _cell(target: Worksheet, column: Column, value: Any) -> WriteOnlyCell:
    value = shown(value, column.kind)
    cell = WriteOnlyCell(target, value=value)
    if isinstance(value, str):
        return _as_text(cell)
    if value is not None and column.kind in FORMATS:
        cell.number_format = FORMATS[column.kind]
    return cell


def shown(value: Any, kind: Kind) -> Any:
    """A value as a workbook cell holds it: yes and no in words, a moment as the wall-clock
    time in Hai Phong (a cell has no time zone), text without what XML cannot carry and
    within what a cell holds."""
    if value is None:
        return None
    if kind == "bool" or isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, datetime):
        return periods.local_moment(value).replace(tzinfo=None)
    if isinstance(value, date | int | float):
        return value
    return _within_a_cell(xml_text(value if isinstance(value, str) else str(value)))


# Excel holds 32,767 characters in a cell and calls a file with a longer one damaged.
CELL_LIMIT = 32_767
CUT = " … (đã cắt bớt / truncated)"


def _within_a_cell(text: str) -> str:
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT - len(CUT)] + CUT


def _as_text(cell: WriteOnlyCell) -> WriteOnlyCell:
    """A text cell stays text: openpyxl would store one starting with `=` as a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def xml_text(text: str) -> str:
    """Text as an XML file can hold it (a workbook's cells, a Word document's runs)."""
    return _NOT_XML.sub("", text)


def xlsx_download(name: str, sheets: Sequence[Sheet],
                  response: Response | None = None) -> Response:
    """The sheets as a downloaded `name`.xlsx (`response`: the route's, whose headers, an
    ETag say, go with it)."""
    return Response(xlsx(sheets), media_type=MEDIA_TYPE, headers={
        "content-disposition": f'attachment; filename="{name}.xlsx"',
        **(response.headers if response is not None else {})})
