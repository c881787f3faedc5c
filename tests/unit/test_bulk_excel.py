"""Excel-native bulk intake: the campaign's template, filled in as a person would (Vietnamese
names from the drop-downs, days as dd/mm/yyyy text or date cells), goes through; so do
semicolon CSV files; a file in Windows-1258 is told how to save itself; a bad row is named
by its line, its column's Vietnamese header and the rule."""

import csv
import io
import re
import unicodedata
import zipfile
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.worksheet.worksheet import Worksheet

from services.bus.directory import Directory
from services.observability import ServiceMetrics
from services.reporting import bulk, template
from services.reporting.api import router
from services.reporting.metrics import IntakeMetrics
from services.reporting.migrations import MIGRATIONS
from services.reporting.settings import ReportingSettings
from tests.unit.apps import bearer
from tests.unit.apps import client as app_client
from tests.unit.test_aggregator_rules import campaign, unit
from tests.unit.test_reporting_api import InlineWriter

UNIT = bearer("unit:xa-1")
BROADCAST = "Buổi phát thanh trên loa truyền thanh cơ sở"
FOREIGN = "Tin, bài, chương trình tiếng nước ngoài"


@pytest.fixture
def client(migrated) -> TestClient:
    metrics = ServiceMetrics("reporting")
    engine = migrated(MIGRATIONS)
    test_client = app_client(
        router, engine, metrics, settings=ReportingSettings(),
        directory=Directory(units={"xa-1": unit("xa-1")}, campaigns={"dai-hoi-xiv": campaign()}),
        intake_metrics=IntakeMetrics(metrics), writer=InlineWriter(engine, lambda: None))
    test_client.app.include_router(template.router)  # type: ignore[attr-defined]
    return test_client


def download(client: TestClient) -> Workbook:
    response = client.get("/v1/reports/bulk/template.xlsx", params={"campaign": "dai-hoi-xiv"},
                          headers=UNIT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == bulk.XLSX
    assert "mau-bao-cao-dai-hoi-xiv.xlsx" in response.headers["content-disposition"]
    return load_workbook(io.BytesIO(response.content))


def fill(book: Workbook, rows: list[dict[str, Any]]) -> bytes:
    """The rows written under the template's headers, by column code."""
    sheet = book.worksheets[0]
    codes = [cell.value for cell in sheet[template.HEADER_ROW + 1]]
    for number, row in enumerate(rows, template.FIRST_ROW):
        for code, value in row.items():
            sheet.cell(number, codes.index(code) + 1, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: TestClient, body: bytes, media: str = bulk.XLSX) -> tuple[int, dict]:
    response = client.post("/v1/reports/bulk", params={"campaign": "dai-hoi-xiv"},
                           content=body, headers=UNIT | {"content-type": media})
    return response.status_code, response.json()


def stored(client: TestClient, report_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/reports/{report_id}", headers=UNIT)
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_kind(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {activity["kind"]: activity for activity in report["activities"]}


class TestTemplate:
    def test_the_template_has_one_sheet_to_fill_with_vietnamese_headers_and_lists(
            self, client) -> None:
        book = download(client)
        sheet, lists = book.worksheets
        assert (sheet.title, sheet.sheet_state, lists.sheet_state) == (
            "Báo cáo", "visible", "hidden")
        assert [c.value for c in sheet[template.HEADER_ROW]][:4] == [
            "Kỳ báo cáo", "Loại hoạt động", "Số lượng", "Ngày phát thanh"]
        assert tuple(c.value for c in sheet[template.HEADER_ROW + 1]) == bulk.COLUMNS
        assert "HƯỚNG DẪN" in str(sheet["A2"].value) and "INSTRUCTIONS" in str(
            sheet[f"{chr(ord('A') + len(bulk.COLUMNS) // 2)}2"].value)
        assert sheet.column_dimensions["D"].number_format == "@"  # text: no locale turns it
        assert "dd/mm/yyyy" in sheet.cell(template.HEADER_ROW, 4).comment.text
        kinds = choices(sheet, lists, "B")
        assert BROADCAST in kinds and "Tin, bài" in kinds and len(kinds) == 9
        periods = choices(sheet, lists, "A")
        assert periods[0] == "2026-W02" and periods[-1] == "2026-W09"

    def test_an_unknown_campaign_has_no_template(self, client) -> None:
        response = client.get("/v1/reports/bulk/template.xlsx", params={"campaign": "khac"},
                              headers=UNIT)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "campaign_unknown"

    def test_the_template_needs_a_credential(self, client) -> None:
        response = client.get("/v1/reports/bulk/template.xlsx",
                              params={"campaign": "dai-hoi-xiv"})
        assert response.status_code == 401


def choices(sheet: Worksheet, lists: Worksheet, letter: str) -> list[str]:
    """The values a column's drop-down offers, read from the range its validation names."""
    [check] = [v for v in sheet.data_validations.dataValidation
               if str(v.sqref).startswith(f"{letter}{template.FIRST_ROW}:")]
    assert check.type == "list"
    where = check.formula1.split("!")[1].replace("$", "")
    return [str(c.value) for row in lists[where] for c in row]


class TestFilledTemplate:
    def test_the_filled_template_is_accepted_with_its_values(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026",
             "report_id": "w04"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": date(2026, 1, 20)},
            {"period": "2026-W04", "kind": "Bài đăng mạng xã hội", "count": 3,
             "platform": "Zalo", "format": "Infographic",
             "evidence_url": "https://zalo.me/p/1", "note": "Trang Zalo của xã"},
            {"period": "2026-W05", "kind": FOREIGN, "count": "1.234",
             "language": "Tiếng Hàn", "format": "Bản tin", "report_id": "w05"},
            {"period": "2026-W05", "kind": "Lượt chia sẻ của cán bộ, đảng viên", "count": 1,
             "people_mobilised": 120, "shares": 340},
            {"period": "2026-W05", "kind": "Tin, bài", "count": 2, "channel": "Phát thanh"},
            {"period": "2026-W05", "kind": BROADCAST, "count": 1, "day": "1/2/2026"},
        ])
        status, result = upload(client, body)
        assert status == 200, result
        assert (result["accepted"], result["rejected"]) == (2, 0)
        assert [r["line"] for r in result["rows"]] == list(range(5, 12))
        w04, w05 = by_kind(stored(client, "w04")), by_kind(stored(client, "w05"))
        assert w04["loudspeaker_broadcast"]["daily_counts"] == {
            "2026-01-19": 2, "2026-01-20": 1}
        post = w04["social_post"]
        assert (post["count"], post["platform"], post["format"]) == (3, "zalo", "infographic")
        assert stored(client, "w04")["note"] == "Trang Zalo của xã"
        foreign = w05["foreign_language_item"]
        assert (foreign["count"], foreign["language"], foreign["format"]) == (
            1234, "ko", "bulletin")
        assert (w05["mobilisation"]["people_mobilised"], w05["mobilisation"]["shares"]) == (
            120, 340)
        assert w05["article"]["channel"] == "radio"
        assert w05["loudspeaker_broadcast"]["daily_counts"] == {"2026-02-01": 1}

    def test_codes_and_excel_serial_days_are_taken_as_well(self, client) -> None:
        serial = (date(2026, 1, 21) - date(1899, 12, 30)).days
        body = fill(download(client), [
            {"period": "2026-W04", "kind": "loudspeaker_broadcast", "count": 4, "day": serial,
             "report_id": "so"}])
        assert upload(client, body)[0] == 200
        assert by_kind(stored(client, "so"))["loudspeaker_broadcast"]["daily_counts"] == {
            "2026-01-21": 4}

    def test_a_bad_row_names_its_line_its_column_header_and_the_rule(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": "Băng rôn, khẩu hiệu, pano, áp phích", "count": -1},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": "01/20/2026"},
            {"period": "2026-W05", "kind": "Tin, bài", "count": 1, "channel": "Báo mạng"},
            {"period": "2026-W06", "kind": "Băng rôn, khẩu hiệu, pano, áp phích", "count": 1}])
        status, result = upload(client, body)
        assert status == 200 and (result["accepted"], result["rejected"]) == (1, 2)
        problems = {r["line"]: r["errors"] for r in result["rows"] if r["errors"]}
        assert {line: [(p["column"], p["column_code"], p["rule"]) for p in found]
                for line, found in problems.items()} == {
            5: [("Số lượng", "count", "greater_than_equal")],
            6: [("Ngày phát thanh", "day", "day_format")],
            7: [("Kênh đăng tải", "channel", "enum")]}
        assert problems[5][0]["explanation"].startswith(
            "Dòng 5, cột “Số lượng” (count): không được là số âm / Line 5, column")
        assert "dd/mm/yyyy" in problems[6][0]["explanation"]

    def test_an_uncalculated_formula_reads_empty_an_error_cell_is_named_text_stays_text(
            self, client) -> None:
        book = download(client)
        body = fill(book, [
            {"period": "2026-W04", "kind": "banner", "count": 1, "report_id": "f",
             "note": "=HYPERLINK(\"http://evil.example\")"},
            {"period": "2026-W05", "kind": "banner", "count": "=2+3"},  # never calculated
            {"period": "2026-W06", "kind": "banner", "count": "#N/A"}])
        sheet = load_workbook(io.BytesIO(body)).worksheets[0]
        assert sheet.cell(template.FIRST_ROW, 13).data_type == "f"  # a formula, as written
        marked = load_workbook(io.BytesIO(body))
        marked.worksheets[0].cell(template.FIRST_ROW, 13).data_type = "s"  # typed as text
        out = io.BytesIO()
        marked.save(out)
        status, result = upload(client, out.getvalue())
        assert status == 200 and (result["accepted"], result["rejected"]) == (1, 2)
        assert stored(client, "f")["note"] == "=HYPERLINK(\"http://evil.example\")"
        rules = {r["line"]: [(e["column_code"], e["rule"]) for e in r["errors"]]
                 for r in result["rows"]}
        assert rules[6] == [("count", "missing")]
        assert rules[7] == [("count", "formula_error")]

    def test_a_body_that_is_not_a_workbook_is_refused_with_a_clear_message(
            self, client) -> None:
        status, body = upload(client, b"period,kind\n2026-W04,banner\n")
        assert (status, body["error"]["code"]) == (400, "not_xlsx")
        assert ".xlsx" in body["error"]["message"]

    def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_read(
            self, client) -> None:
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as bomb:
            bomb.writestr("xl/sharedStrings.xml", b"\0" * (bulk.MAX_UNPACKED_BYTES + 1))
        status, body = upload(client, packed.getvalue())
        assert (status, body["error"]["code"]) == (413, "workbook_too_large")


def cp1258(text: str) -> bytes:
    """Text as Windows-1258 holds it: the letter with its shape (â, ư) as one byte, the
    tone as a combining mark after it where no single byte has both."""
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tones = "".join(p for p in parts if p in "\u0300\u0301\u0303\u0309\u0323")
            letter = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
            out += (letter + tones).encode("cp1258")
    return out


class TestCsv:
    def test_a_semicolon_csv_with_vietnamese_headers_and_dd_mm_yyyy_days_is_accepted(
            self, client) -> None:
        text = ("Kỳ báo cáo;Loại hoạt động;Số lượng;Ngày phát thanh;Mã báo cáo;Ghi chú\n"
                f"2026-W04;{BROADCAST};2;19/01/2026;csv-w04;sáng, chiều\n"
                "2026-W04;loudspeaker_broadcast;1;20/1/2026;;\n"
                "2026-W04;Băng rôn, khẩu hiệu, pano, áp phích;1.500;;;\n")
        status, result = upload(client, ("\ufeff" + text).encode(), bulk.CSV)
        assert status == 200, result
        assert (result["accepted"], result["rejected"]) == (1, 0)
        report = stored(client, "csv-w04")
        assert by_kind(report)["loudspeaker_broadcast"]["daily_counts"] == {
            "2026-01-19": 2, "2026-01-20": 1}
        assert by_kind(report)["banner"]["count"] == 1500
        assert report["note"] == "sáng, chiều"

    def test_a_template_saved_as_csv_keeps_its_title_and_codes_rows_out(self, client) -> None:
        text = ("Mẫu báo cáo hàng loạt;;;\n\"HƯỚNG DẪN\n1. Mỗi dòng...\";;;\n"
                "Kỳ báo cáo;Loại hoạt động;Số lượng;Mã báo cáo\n"
                "period;kind;count;report_id\n;;;\n"
                f"2026-W04;{FOREIGN};1;t\n")
        status, result = upload(client, text.encode(), bulk.CSV)
        assert status == 422  # the item lacks its language and format: named on row 6
        assert [(r["line"], {e["column_code"] for e in r["errors"]}) for r in result["rows"]] \
            == [(6, {"language", "format"})]  # the instructions' two lines are one row

    def test_a_windows_1258_file_is_told_to_be_saved_as_csv_utf8(self, client) -> None:
        raw = cp1258("Kỳ báo cáo,Loại hoạt động,Số lượng,Ghi chú\n"
                     "2026-W04,banner,1,Treo băng rôn ở chợ Đông Hưng\n")
        status, body = upload(client, raw, bulk.CSV)
        assert (status, body["error"]["code"]) == (400, "not_utf8")
        message = body["error"]["message"]
        vietnamese = message.index("“CSV UTF-8 (phân cách bằng dấu phẩy)”")
        assert vietnamese < message.index("“CSV UTF-8 (Comma delimited)”")
        assert ".xlsx" in message and "dòng 1" in message

    @pytest.mark.parametrize(("field", "column"), [
        ("banner.count", "count"), ("social_post.evidence_urls.0", "evidence_url"),
        ("activities.0.daily_counts", "day"),
        ("loudspeaker_broadcast.daily_counts.2026-01-20", "count"), ("period", "period"),
        ("", "kind"), ("row", "")])
    def test_a_problem_is_placed_in_the_column_it_was_read_from(self, field, column) -> None:
        assert bulk.column_of(field, "union_tag_invalid" if not field else "x") == column

    @pytest.mark.parametrize(("written", "day"), [
        ("2026-01-20", "2026-01-20"), ("20/01/2026", "2026-01-20"), ("20/1/2026", "2026-01-20"),
        ("1/2/2026", "2026-02-01"), ("20.01.2026", "2026-01-20"), ("46042", "2026-01-20")])
    def test_a_day_is_read_day_first_in_each_form(self, written, day) -> None:
        [group] = bulk.read(f"period,kind,count,day\n2026-W04,loudspeaker_broadcast,1,"
                            f"{written}\n".encode(), "dai-hoi-xiv")
        assert group.rows[0]["day"] == day

    @pytest.mark.parametrize(("written", "count"), [
        ("1.234", 1234), ('"1,234"', 1234), ("1 234", 1234), ("12", 12)])
    def test_thousands_may_be_grouped(self, written, count) -> None:
        [group] = bulk.read(f"period,kind,count\n2026-W04,banner,{written}\n".encode(),
                            "dai-hoi-xiv")
        assert group.body is not None and group.body.activities[0].count == count

    @pytest.mark.parametrize("written", ["1.5", "1,23", "1.2345", "1.234,5"])
    def test_a_fraction_is_no_count(self, written) -> None:
        [group] = bulk.read(f"period;kind;count\n2026-W04;banner;{written}\n".encode(),
                            "dai-hoi-xiv")
        assert group.body is None
        assert [p.rule for p in group.errors[2]] == ["int_parsing"]


def rewritten(raw: bytes, member: str, change: Any) -> bytes:
    """The workbook with one of its parts changed as another tool (or a damaged copy) has it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w") as copy:
        for info in source.infolist():
            data = source.read(info.filename)
            copy.writestr(info, change(data) if info.filename == member else data)
    return out.getvalue()


def plain(rows: list[list[Any]], epoch: Any = None) -> bytes:
    """A workbook of one sheet holding these rows, as a script writes it."""
    book = Workbook()
    if epoch is not None:
        book.epoch = epoch
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


class TestWorkbookAsWritten:
    def test_rows_past_the_sheets_declared_dimension_are_all_read(self, client) -> None:
        body = plain([["period", "kind", "count", "report_id"]]
                     + [["2026-W04", "banner", 1, "dim"]] * 20)
        short = rewritten(body, SHEET, lambda xml: re.sub(
            rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:C5"/>', xml))
        assert b'<dimension ref="A1:C5"/>' in zipfile.ZipFile(io.BytesIO(short)).read(SHEET)
        status, result = upload(client, short)
        assert status == 200, result
        assert [r["line"] for r in result["rows"]] == list(range(2, 22))
        assert sum(a["count"] for a in stored(client, "dim")["activities"]) == 20

    @pytest.mark.parametrize("damage", [
        lambda xml: xml[:len(xml) // 2],  # cut off halfway
        lambda xml: xml.replace(b"<v>1</v>", b"<v>abc</v>", 1)])  # a number cell of letters
    def test_a_damaged_sheet_is_refused_as_not_a_workbook(self, client, damage) -> None:
        body = plain([["period", "kind", "count"], ["2026-W04", "banner", 1]])
        status, answer = upload(client, rewritten(body, SHEET, damage))
        assert (status, answer["error"]["code"]) == (400, "not_xlsx")

    @pytest.mark.parametrize("number", [1.234, 0.001, 2.5])
    def test_a_number_cell_with_a_fraction_is_no_count(self, client, number) -> None:
        body = fill(download(client), [{"period": "2026-W04", "kind": "banner", "count": number},
                                       {"period": "2026-W04", "kind": BROADCAST, "count": number,
                                        "day": "19/01/2026"}])
        status, result = upload(client, body)
        assert status == 422, result
        assert [[(e["column_code"], e["rule"]) for e in r["errors"]] for r in result["rows"]] \
            == [[("count", "int_from_float")]] * 2
        assert "không có phần lẻ" in result["rows"][0]["errors"][0]["explanation"]

    def test_a_1904_workbook_reads_its_day_numbers_from_1904(self, client) -> None:
        serial = (date(2026, 1, 21) - date(1904, 1, 1)).days
        body = plain([["period", "kind", "count", "day", "report_id"],
                      ["2026-W04", "loudspeaker_broadcast", 2, serial, "mac"],
                      ["2026-W04", "loudspeaker_broadcast", 1, date(2026, 1, 22), "mac"]],
                     epoch=CALENDAR_MAC_1904)
        assert b'date1904="1"' in zipfile.ZipFile(io.BytesIO(body)).read("xl/workbook.xml")
        status, result = upload(client, body)
        assert status == 200, result
        assert by_kind(stored(client, "mac"))["loudspeaker_broadcast"]["daily_counts"] == {
            "2026-01-21": 2, "2026-01-22": 1}


class TestLoudspeakerRows:
    def test_a_day_over_the_limit_is_named_on_its_own_row(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": "20/01/2026"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 150, "day": "21/01/2026"}])
        status, result = upload(client, body)
        assert status == 422
        assert {r["line"]: [(e["column_code"], e["rule"]) for e in r["errors"]]
                for r in result["rows"]} == {5: [], 6: [], 7: [("count", "less_than_equal")]}

    def test_a_day_outside_the_period_is_named_on_its_own_row(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": "27/01/2026"},
            {"period": "2026-W04", "kind": "banner", "count": 1}])
        status, result = upload(client, body)
        assert status == 422
        assert {r["line"]: [(e["column_code"], e["rule"]) for e in r["errors"]]
                for r in result["rows"]} == {5: [], 6: [("day", "day_outside_period")], 7: []}
        explanation = result["rows"][1]["errors"][0]["explanation"]
        assert "27/01/2026" in explanation and "nhầm" not in explanation

    def test_a_day_whose_day_and_month_swapped_fall_in_the_period_says_so(self, client) -> None:
        # 05/02/2026 typed into Excel in an en-US locale: 2 May
        body = fill(download(client), [
            {"period": "2026-W06", "kind": BROADCAST, "count": 2, "day": date(2026, 5, 2)}])
        status, result = upload(client, body)
        assert status == 422
        [problem] = result["rows"][0]["errors"]
        assert (problem["column_code"], problem["rule"]) == ("day", "day_outside_period")
        assert "có thể đã nhầm ngày và tháng" in problem["explanation"]
        assert "day and month may be swapped" in problem["message"]
        vietnamese, english = problem["explanation"].split(" / ", 1)
        assert "nhầm" in vietnamese and "swapped" in english

    def test_a_loudspeaker_rows_evidence_link_is_kept(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026",
             "evidence_url": "https://xa-1.haiphong.gov.vn/loa-19", "report_id": "loa"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": "20/01/2026",
             "evidence_url": "https://xa-1.haiphong.gov.vn/loa-20"}])
        assert upload(client, body)[0] == 200
        assert by_kind(stored(client, "loa"))["loudspeaker_broadcast"]["evidence_urls"] == [
            "https://xa-1.haiphong.gov.vn/loa-19", "https://xa-1.haiphong.gov.vn/loa-20"]

    def test_a_bad_evidence_link_on_a_loudspeaker_row_is_named_on_it(self, client) -> None:
        body = fill(download(client), [
            {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026"},
            {"period": "2026-W04", "kind": BROADCAST, "count": 1, "day": "20/01/2026",
             "evidence_url": "loa-20"}])
        status, result = upload(client, body)
        assert status == 422
        assert [[e["column_code"] for e in r["errors"]] for r in result["rows"]] == [
            [], ["evidence_url"]]


class TestTemplateSavedAsCsv:
    def test_a_bad_rows_line_is_the_row_the_spreadsheet_shows(self, client) -> None:
        sheet = download(client).worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert any("\n" in str(cell) for cell in rows[1])  # the instructions span lines
        blank: list[Any] = [None] * (len(bulk.COLUMNS) - 3)
        good = ["2026-W04", "Băng rôn, khẩu hiệu, pano, áp phích", 1, *blank]
        bad = ["2026-W04", "Tin, bài", 1, *blank]  # without its channel
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")  # as LibreOffice saves: quoted cells
        for row in [*rows, good, bad]:
            writer.writerow(["" if cell is None else cell for cell in row])
        status, result = upload(client, text.getvalue().encode(), bulk.CSV)
        assert status == 422, result
        problems = {r["line"]: [e["column_code"] for e in r["errors"]] for r in result["rows"]}
        assert problems == {template.FIRST_ROW: [], template.FIRST_ROW + 1: ["channel"]}
        assert result["rows"][1]["errors"][0]["explanation"].startswith(
            f"Dòng {template.FIRST_ROW + 1},")
