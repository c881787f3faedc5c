"""Downloads for spreadsheets: CSV and XLSX that Excel and LibreOffice open as the user
expects, made from one declaration of each table's columns (services.web.spreadsheets), so
that the two files never drift apart; text cells never run as formulas.

A CSV has two header rows: the Vietnamese headers, then the codes (the JSON feed's field
names). `header="code"` (a route's `header=code`) gives the codes alone, one header row,
for scripts. Yes and no are written Có and Không."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from fastapi.responses import StreamingResponse

from services import periods
from services.web.spreadsheets import MEDIA_TYPE, NO, YES, Column, Sheet, xlsx_download

HeaderRows = Literal["vi", "code"]
HeaderQuery = Annotated[HeaderRows, Query(description="The CSV's header rows: vi, the "
                                          "Vietnamese headers then the codes; code, the "
                                          "codes alone (for scripts).")]
CSV_TYPE = "text/csv; charset=utf-8"


def csv_download(name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                 response: Response | None = None, *, header: HeaderRows = "vi"
                 ) -> StreamingResponse:
    """UTF-8 with a byte-order mark, so that Excel shows Vietnamese names correctly; every
    cell goes through `inert`. Streamed: lines go out as they are read. (`response`: the
    route's, whose headers, an ETag say, go with it.)"""
    return StreamingResponse(csv_lines(columns, rows, header), media_type=CSV_TYPE,
                             headers=_csv_headers(name, response))


def csv_lines(columns: Sequence[Column], rows: Iterable[Sequence[Any]],
              header: HeaderRows = "vi") -> Iterator[bytes]:
    """The CSV file's bytes (see csv_download), some 500 lines at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    if header == "vi":
        writer.writerow(inert(c.header) for c in columns)
    writer.writerow(inert(c.code) for c in columns)
    for count, row in enumerate(rows, 1):
        writer.writerow(inert(csv_cell(value, column.kind))
                        for column, value in zip(columns, row, strict=True))
        if count % 500 == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def _csv_headers(name: str, response: Response | None) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}.csv"',
            **(response.headers if response is not None else {})}


def table_download(form: str, name: str, sheet: Sheet, response: Response | None = None,
                   *, header: HeaderRows = "vi", whole: bool = False) -> Response:
    """One table as the file `name`: XLSX when `form` is "xlsx", else CSV (the sheet's
    title and heading go in the XLSX only: a CSV is the table alone). An XLSX is always
    made whole; a CSV is streamed, or made whole when `whole`: then a failure is the
    route's, before it commits (tokens shown once)."""
    if form == "xlsx":
        return xlsx_download(name, [sheet], response)
    if whole:
        return Response(b"".join(csv_lines(sheet.columns, sheet.rows, header)),
                        media_type=CSV_TYPE, headers=_csv_headers(name, response))
    return csv_download(name, sheet.columns, sheet.rows, response, header=header)


def csv_cell(value: Any, kind: str) -> Any:
    """A value as a CSV cell: yes and no in words, a moment in Hai Phong time (ISO 8601,
    with its offset), the rest as it is (None: an empty cell)."""
    if isinstance(value, bool) or (kind == "bool" and value is not None):
        return YES if value else NO
    if isinstance(value, datetime):
        return periods.local_moment(value).isoformat()
    return value


def documented(query: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a route that also gives its table as CSV and XLSX (`query`:
    how a client asks for them)."""
    return {200: {"content": {"text/csv": {}, MEDIA_TYPE: {}}, "description": (
        f"JSON, or {query}: the table for Excel. CSV: UTF-8 with a byte-order mark, a row "
        "of Vietnamese headers then a row of the codes (the JSON field names); `header=code`"
        " gives the codes alone. XLSX: one sheet, the same two header rows, frozen and "
        "filtered, numbers and dates as numbers, text always as text. Yes and no are "
        "written Có and Không.")}}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (a unit named
    `=HYPERLINK(...)`), quoted with a leading `'` as OWASP advises; Excel shows the text."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
