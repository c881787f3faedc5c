"""The compiled report, fast: report events folded into a real migrated SQLite database by
the aggregator's handler, compiled as of a stated time, written as Word and Excel files and
read back with python-docx and openpyxl. Its figures are those of the feeds; the same
`as_of` gives the same figures after later reports and revisions."""

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import docx
import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services import periods
from services.aggregator import compiled, documents, feeds, report_api
from services.aggregator.migrations import MIGRATIONS
from services.events import EnteredBy, ReportSubmitted
from services.refusals import Invalid, Unavailable
from tests.unit.apps import bearer, client
from tests.unit.test_aggregator_rules import (
    EVERY_DAY,
    LATE,
    ON_TIME,
    Aggregates,
    broadcasts,
    campaign,
    report,
    unit,
)

W05_ON_TIME = datetime(2026, 2, 2, 3, 0, tzinfo=UTC)  # W05 is due 2 February, 10:00 UTC
AS_OF = datetime(2026, 2, 3, 8, 30, tzinfo=UTC)
LATER = AS_OF + timedelta(days=1)
SPAN = (date(2026, 1, 19), date(2026, 2, 1))  # W04 and W05
FORMULA_NAME = '=HYPERLINK("http://example.com","Xã")'


def on_behalf(event: ReportSubmitted, entered_at: datetime) -> ReportSubmitted:
    """The event as intake writes a report the Department entered for the unit."""
    return event.model_copy(update={"entered_by": EnteredBy(
        credential_id="cred-vp", label="Nguyễn Thị Hoa (Văn phòng Sở)",
        note="Công văn số 12/UBND, nhận ngày 25/01/2026", entered_at=entered_at)})


@pytest.fixture
def aggregates(migrated) -> Aggregates:
    found = Aggregates(migrated(MIGRATIONS))
    found.add(unit("xa-1", parent="31"), unit("xa-2", active_until="2026-01-25"),
              unit("xa-3", name=FORMULA_NAME), unit("ph-1", "ward"),
              unit("so-1", "department"), unit("bao-1", "press"))
    found.fold(
        report("xa-1", activities=broadcasts(EVERY_DAY)),
        report("xa-1", 2, at=LATE, first=ON_TIME, activities=[
            *broadcasts(EVERY_DAY), {"kind": "social_post", "count": 4, "platform": "zalo",
                                     "format": "video"}]),
        report("xa-2", at=LATE, activities=broadcasts({19: 1})),  # late, below both targets
        report("ph-1", kind="ward", activities=broadcasts(dict.fromkeys(range(19, 24), 1))),
        report("so-1", kind="department", activities=[
            {"kind": "foreign_language_item", "count": 2, "language": "ja",
             "format": "bulletin"}]),
        on_behalf(report("bao-1", kind="press", activities=[
            {"kind": "article", "count": 6, "channel": "press"}]), LATE + timedelta(hours=1)),
        report("xa-1", period="2026-W05", at=W05_ON_TIME, activities=broadcasts(
            {26: 1, 27: 1, 28: 1, 29: 1, 30: 1, 31: 1})))
    return found


def compile_at(aggregates: Aggregates, as_of: datetime = AS_OF) -> compiled.Compiled:
    with Session(aggregates.engine) as session:
        return compiled.compile_report(session, aggregates.directory, campaign(), *SPAN, as_of)


def test_each_period_has_the_figures_of_its_feed(aggregates) -> None:
    report_ = compile_at(aggregates)
    assert [p.period.name for p in report_.periods] == ["2026-W04", "2026-W05"]
    for figures in report_.periods:
        feed = aggregates.progress(figures.period.name, today=periods.local_day(AS_OF))
        assert (figures.ratios.city, figures.ratios.by_unit_kind) == (feed.city,
                                                                      feed.by_unit_kind)
        assert (figures.totals, figures.coverage, figures.loudspeaker) == (
            feed.totals, feed.coverage, feed.loudspeaker)
        assert [u.code for u in figures.missing] == aggregates.missing(figures.period.name)
    w04 = report_.periods[0]
    assert w04.ratios.city.expected == 6 and w04.ratios.city.reported == 5
    assert [u.code for u, _ in w04.late] == ["xa-2"]  # xa-1's late revision stays on time
    assert [(b.code, b.weekly, b.peak_day) for b in w04.below] == [
        (u.code, bool(u.weeks_below), bool(u.days_below))
        for u in aggregates.below("2026-W04", today=periods.local_day(AS_OF))]
    assert [b.code for b in w04.below] == ["ph-1", "xa-2"]
    # the retired xa-2 is not expected in W05
    assert [u.code for u in report_.periods[1].missing] == ["bao-1", "ph-1", "so-1", "xa-3"]


def test_the_same_as_of_gives_the_same_figures_after_more_reports(aggregates) -> None:
    before = compile_at(aggregates)
    aggregates.fold(
        report("xa-3", at=LATER, activities=broadcasts(EVERY_DAY)),
        report("xa-1", 3, at=LATER, first=ON_TIME, activities=[{"kind": "banner", "count": 9}]),
        on_behalf(report("ph-1", kind="ward", period="2026-W05", at=W05_ON_TIME,
                         activities=broadcasts({26: 3})), LATER))  # back-dated, entered later
    again = compile_at(aggregates)
    assert again == before
    assert documents.context(again, LATER.date()) == documents.context(before, LATER.date())
    now = compile_at(aggregates, LATER + timedelta(hours=1))
    assert now.periods[0].ratios.city.reported == 6
    assert now.periods[0].totals.by_activity_kind["banner"] == 9
    assert now.periods[1].ratios.by_unit_kind["ward"].on_time == 1  # its stated reception


def test_the_span_must_lie_in_the_campaign(aggregates) -> None:
    with Session(aggregates.engine) as session, pytest.raises(Invalid) as refused:
        compiled.compile_report(session, aggregates.directory, campaign(), date(2026, 2, 1),
                                date(2026, 1, 19), AS_OF)
    assert refused.value.fields[0].field == "to"


def table_after(document: Any, first_header: str) -> list[list[str]]:
    """The rows of the document's first table whose header begins with `first_header`."""
    for table in document.tables:
        rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
        if rows and rows[0][0] == first_header:
            return rows
    raise AssertionError(f"no table headed {first_header!r}")


def test_the_word_document_holds_the_figures_and_states_its_time(aggregates) -> None:
    report_ = compile_at(aggregates)
    document = docx.Document(io.BytesIO(documents.docx(report_, issued_on=date(2026, 2, 4))))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Số liệu tính đến 15:30:00 ngày 03/02/2026" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in document.tables[0].rows[0].cells[1].text
    assert "Hải Phòng, ngày 04 tháng 02 năm 2026" in document.tables[0].rows[0].cells[1].text
    kinds = table_after(document, "Loại đơn vị")
    feeds_ = [aggregates.progress(p, today=periods.local_day(AS_OF)).city
              for p in ("2026-W04", "2026-W05")]
    city = kinds[-1]
    assert city[0] == "Toàn thành phố"
    assert [int(c) for c in city[1:4]] == [sum(f.expected for f in feeds_),
                                           sum(f.reported for f in feeds_),
                                           sum(f.on_time for f in feeds_)]
    by_code = {row[1]: row for row in _annex(document)}
    assert by_code["xa-3"][2] == FORMULA_NAME
    assert by_code["bao-1"][-1] == "Nguyễn Thị Hoa (Văn phòng Sở)"
    assert by_code["xa-1"][4:8] == ["2", "2", "2", "0"]  # expected, reported, on time, late


def _annex(document: Any) -> list[list[str]]:
    for table in document.tables:
        rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
        if rows and rows[0][:2] == ["STT", "Mã"]:
            return rows[1:]
    raise AssertionError("no annex table")


def test_the_workbook_holds_the_same_tables_with_text_left_as_text(aggregates) -> None:
    report_ = compile_at(aggregates)
    book = openpyxl.load_workbook(io.BytesIO(documents.workbook(report_)))
    assert "Phụ lục theo đơn vị" in book.sheetnames
    annex = book["Phụ lục theo đơn vị"]
    rows = list(annex.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row[0] == "code")
    lines = {row[0]: row for row in rows[header + 1:]}
    named = lines["xa-3"]
    assert named[1] == FORMULA_NAME
    cell = next(c for row in annex.iter_rows() for c in row if c.value == FORMULA_NAME)
    assert cell.data_type == "s"
    assert lines["xa-1"][4:8] == (2, 2, 2, 0)
    situation = list(book["Tình hình báo cáo"].iter_rows(values_only=True))
    city = next(row for row in situation if row[0] == "Toàn thành phố")
    assert city[1:4] == (report_.city.expected, report_.city.reported, report_.city.on_time)


def test_a_period_before_its_deadline_is_open_and_counts_only_what_was_recorded(
        aggregates) -> None:
    early = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # xa-1's W05 report came a day later
    report_ = compile_at(aggregates, early)
    assert [p.state for p in report_.periods] == ["due", "open"]
    assert report_.periods[1].ratios.city.reported == 0
    assert feeds.expected(aggregates.directory, aggregates.view("2026-W05")).per_kind == {
        kind: r.expected for kind, r in report_.periods[1].ratios.by_unit_kind.items()}


def test_a_report_folded_after_the_stated_time_is_not_counted_as_of_it(aggregates) -> None:
    """Received before `as_of` but still on its way (the outbox, a broker outage) when a
    report stood at `as_of`: it is recorded when folded, so asking again changes nothing."""
    before = compile_at(aggregates)
    aggregates.fold(report("xa-3", at=AS_OF - timedelta(minutes=5),
                           activities=broadcasts(EVERY_DAY)), clock=lambda: LATER)
    assert compile_at(aggregates) == before
    assert compile_at(aggregates, LATER).periods[0].ratios.city.reported == 6


def test_an_unreadable_newest_version_leaves_the_one_before_standing(aggregates) -> None:
    readable = report("xa-3", activities=[{"kind": "banner", "count": 2}])
    aggregates.fold(readable)
    broken = json.loads(report("xa-3", 2, at=LATE, first=ON_TIME).model_dump_json())
    broken["activities"] = [{"kind": "banner", "count": -5}]  # its head reads, its body not
    aggregates.fold(json.dumps(broken).encode())
    figures = compile_at(aggregates, LATER).periods[0]
    feed = aggregates.progress("2026-W04", today=periods.local_day(LATER))
    assert figures.totals == feed.totals and figures.ratios.city == feed.city
    assert figures.totals.by_activity_kind["banner"] == 2


def test_a_unit_that_changed_kind_counts_as_its_feed_counts_it(aggregates) -> None:
    aggregates.add(unit("xa-1", "ward", parent="31"))  # it reported as a commune
    figures = compile_at(aggregates).periods[0]
    feed = aggregates.progress("2026-W04", today=periods.local_day(AS_OF))
    assert (figures.ratios.city, figures.ratios.by_unit_kind) == (feed.city,
                                                                  feed.by_unit_kind)


def test_user_text_xml_cannot_hold_is_dropped_from_both_files(aggregates) -> None:
    aggregates.add(unit("xa-1", name="Xã\x01 Tân\ufffe Hưng\uffff <&>"))
    report_ = compile_at(aggregates)
    text = "\n".join(c.text for t in docx.Document(io.BytesIO(documents.docx(report_)))
                     .tables for row in t.rows for c in row.cells)
    assert "Xã Tân Hưng <&>" in text
    book = openpyxl.load_workbook(io.BytesIO(documents.workbook(report_)))
    names = [row[1] for row in book["Phụ lục theo đơn vị"].iter_rows(values_only=True)]
    assert "Xã Tân Hưng <&>" in names


def report_client(aggregates: Aggregates) -> TestClient:
    from services.aggregator.settings import AggregatorSettings
    return client(report_api.router, aggregates.engine, directory=aggregates.directory,
                  settings=AggregatorSettings())


def test_the_route_answers_both_files_at_the_second_it_states(aggregates) -> None:
    http = report_client(aggregates)
    answer = http.get("/v1/reports/compiled", headers=bearer("lanh-dao"), params={
        "campaign": "dai-hoi-xiv", "as_of": "2026-02-03T15:30:00.900+07:00"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-as-of"] == "2026-02-03T08:30:00+00:00"
    assert answer.headers["content-type"] == report_api.DOCX
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(answer.content)).paragraphs)
    assert "Số liệu tính đến 15:30:00 ngày 03/02/2026" in text
    book = http.get("/v1/reports/compiled", headers=bearer("lanh-dao"), params={
        "campaign": "dai-hoi-xiv", "as_of": "2026-02-03T15:30:00", "format": "xlsx"})
    assert book.headers["x-as-of"] == answer.headers["x-as-of"]
    assert openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames[0] == \
        "Tình hình báo cáo"


@pytest.mark.parametrize(("as_of", "rule"), [
    ("2999-01-01T00:00:00+07:00", "as_of_in_future"),
    ("0001-01-01T00:00:00", "datetime_out_of_range"),
    ("hôm qua", "datetime_from_date_parsing")])
def test_a_time_to_come_or_none_a_calendar_holds_is_refused_by_name(aggregates, as_of,
                                                                    rule) -> None:
    answer = report_client(aggregates).get("/v1/reports/compiled", headers=bearer(
        "lanh-dao"), params={"campaign": "dai-hoi-xiv", "as_of": as_of})
    assert answer.status_code == 422, answer.text
    fields = answer.json()["error"]["fields"]
    assert fields[0]["rule"] == rule and fields[0]["field"].endswith("as_of")


def test_a_unit_token_may_not_read_the_report(aggregates) -> None:
    answer = report_client(aggregates).get("/v1/reports/compiled", headers=bearer(
        "unit:xa-1"), params={"campaign": "dai-hoi-xiv"})
    assert answer.status_code == 403


def test_an_open_period_and_a_unit_that_began_later_are_not_owed(aggregates) -> None:
    """The city-wide figures count the periods due; a unit whose first day came after the
    stated time (added to the registry since) was not expected then."""
    aggregates.add(unit("xa-9", active_from="2026-02-04"))  # after AS_OF's day
    early = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # W05's deadline still to come
    report_ = compile_at(aggregates, early)
    w04, w05 = report_.periods
    assert w05.state == "open" and report_.city == w04.ratios.city
    assert "xa-9" not in {line.unit.code for line in report_.units}
    assert "xa-9" not in {u.code for u in w04.missing}
    owed = {line.unit.code: (line.expected, line.missing) for line in report_.units}
    assert owed["xa-1"] == (1, [])  # W04 due; W05 open, its report counted as work only


@pytest.mark.parametrize("field", ["{{ ngay ", "{{ ngay.__class__.__mro__[1].__subclasses__() }}"])
def test_a_template_with_a_broken_or_unsafe_field_is_refused_by_name(aggregates, tmp_path,
                                                                      field) -> None:
    """The Department edits the template: a field it broke, or one reaching into the
    program, is refused naming the part, not run."""
    edited = tmp_path / "mau.docx"
    with zipfile.ZipFile(documents.TEMPLATE) as source, zipfile.ZipFile(edited, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"{{ ngay }}", field.encode())
            out.writestr(item, data)
    with pytest.raises(Unavailable) as refused:
        documents.docx(compile_at(aggregates), edited)
    assert refused.value.code == "report_template_invalid"
    assert "word/document.xml" in refused.value.message
