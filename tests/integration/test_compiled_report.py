"""The compiled report for the City People's Committee, end to end: a real registry,
reporting service and aggregator on the leg's broker and database. Units report through
intake (late for the periods already due, on time for the current one, with revisions, a
unit retired after the first period); the Word and Excel files the aggregator answers are
opened with python-docx and openpyxl and their figures compared with its JSON feeds; the
same `as_of` asked again after more reports gives the same files' figures. On one leg,
LibreOffice converts both files, and page 1 of the Word file, as PDF then PNG, is saved in
TEST_OUTPUT (default test-output/) for a person to look at.
"""

import io
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import httpx
import openpyxl
import pytest

from services import periods
from tests.rig import BROKER, DATABASE, ServiceProcess, until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("TEST_OUTPUT", ROOT / "test-output"))
CONVERTING_LEG = ("tansu", "sqlite")
FORMULA_NAME = '=HYPERLINK("http://example.com","Xã")'


@dataclass
class City:
    registry: ServiceProcess
    reporting: ServiceProcess
    aggregator: ServiceProcess
    campaign: str
    leader: str
    tokens: dict[str, str]
    periods: list[dict[str, Any]]  # the overview's, oldest first

    def unit(self, code: str, kind: str = "commune", name: str | None = None) -> None:
        self.registry.admin().post("/v1/units", json={
            "code": code, "name": name or f"Đơn vị {code}", "kind": kind,
            "active_from": "2025-07-01"}).raise_for_status()
        self.tokens[code] = self.registry.admin().post("/v1/credentials", json={
            "scope": "unit", "unit_code": code, "label": "cán bộ"}).json()["token"]

    def submit(self, code: str, period: dict[str, Any], banners: int = 1) -> None:
        """A report of the unit for the period: banners, and for communes a broadcast a day."""
        activities: list[dict[str, Any]] = [{"kind": "banner", "count": banners}]
        if code.startswith("xa"):
            start = date.fromisoformat(period["period_start"])
            activities.append({"kind": "loudspeaker_broadcast", "daily_counts": {
                str(start + timedelta(days=d)): 1 for d in range(7)}})

        def sent() -> bool:  # the reporting service learns of a new unit within seconds
            answer = self.reporting.client(self.tokens[code]).post("/v1/reports", json={
                "campaign": self.campaign, "period": period["period"],
                "activities": activities})
            assert answer.status_code in (201, 401, 403), answer.text
            return answer.status_code == 201

        until(sent, what=f"{code}'s report for {period['period']}")

    def feed(self, path: str, period: str, **params: str) -> Any:
        query = {"campaign": self.campaign, "period": period} | params
        if path:
            query["limit"] = "500"
        answer = self.aggregator.client(self.leader).get(f"/v1/progress{path}", params=query)
        answer.raise_for_status()
        return answer.json()

    def compiled(self, format: str, as_of: str | None = None) -> httpx.Response:
        params = {"campaign": self.campaign, "format": format} | (
            {"as_of": as_of} if as_of else {})
        answer = self.aggregator.client(self.leader).get("/v1/reports/compiled", params=params)
        assert answer.status_code == 200, answer.text
        return answer

    def due(self) -> list[dict[str, Any]]:
        """The periods whose deadline has passed, as the overview has them now: the ones the
        report's obligations (expected, reported, missing) count."""
        answer = self.aggregator.client(self.leader).get("/v1/progress/overview", params={
            "campaign": self.campaign})
        return [p for p in answer.json()["items"] if p["state"] == "due"]

    def reported(self) -> list[int]:
        return [self.feed("", p["period"])["city"]["reported"] for p in self.periods]


@pytest.fixture(scope="module")
def city(module_services) -> City:
    registry = module_services("registry")
    reporting, aggregator = module_services("reporting"), module_services("aggregator")
    code = f"bc-{uuid.uuid4().hex[:6]}"
    today = periods.today()
    duty = {"loudspeaker_per_week": 3, "loudspeaker_per_peak_day": 1}
    registry.admin().post("/v1/campaigns", json={
        "code": code, "name": "Tuyên truyền Đại hội XIV (thử)",
        "starts_on": str(today - timedelta(days=today.weekday() + 21)),  # a Monday
        "ends_on": str(today + timedelta(days=28)),
        "peak_windows": [{"starts_on": str(today - timedelta(days=today.weekday() + 12)),
                          "ends_on": str(today - timedelta(days=today.weekday() + 10))}],
        "targets": {"commune": duty, "ward": duty, "department": {}}}).raise_for_status()
    leader = registry.admin().post("/v1/credentials", json={
        "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]

    def overview() -> list[dict[str, Any]]:
        answer = aggregator.client(leader).get("/v1/progress/overview", params={
            "campaign": code})
        return answer.json()["items"] if answer.status_code == 200 else []

    until(overview, what="the aggregator knows the campaign")
    found = City(registry, reporting, aggregator, code, leader, {},
                 [p for p in overview() if p["state"] != "upcoming"])
    # three weeks past (the first two surely due, whatever the hour) and the current one
    assert [p["state"] for p in found.periods][:2] == ["due", "due"]
    assert found.periods[-1]["state"] == "open" and len(found.periods) == 4
    first, second, current = found.periods[0], found.periods[1], found.periods[-1]
    for unit, kind in (("xa-1", "commune"), ("xa-3", "commune"), ("ph-1", "ward"),
                       ("so-1", "department")):
        found.unit(unit, kind)
    found.unit("xa-2", name=FORMULA_NAME)
    found.submit("xa-1", first)  # late: its deadline has passed
    found.submit("xa-1", second)
    found.submit("xa-1", current)  # on time
    found.submit("xa-1", current, banners=5)  # a revision
    found.submit("xa-3", first)
    found.submit("ph-1", second)
    found.submit("xa-2", current)
    registry.admin().post("/v1/units/xa-3/retire", json={
        "active_until": first["period_end"]}).raise_for_status()
    until(lambda: found.reported() == [2, 2, 0, 2], what=lambda: str(found.reported()))
    time.sleep(1.1)  # a report stands at a whole second: one begun since they were folded
    return found


def sheet(book: Any, title: str) -> list[dict[str, Any]]:
    """A sheet's lines by the English codes of its second header row."""
    rows = list(book[title].iter_rows(values_only=True))
    at = next(i for i, row in enumerate(rows) if row and row[0] in ("code", "period",
                                                                      "unit_kind", "scope",
                                                                      "activity_kind",
                                                                      "detail"))
    return [dict(zip(rows[at], row, strict=False)) for row in rows[at + 1:]]


def workbook(answer: httpx.Response) -> Any:
    return openpyxl.load_workbook(io.BytesIO(answer.content))


def test_the_workbook_s_figures_are_the_feeds(city) -> None:
    book = workbook(city.compiled("xlsx"))
    trend = {line["period"]: line for line in sheet(book, "Diễn biến qua các kỳ")}
    kinds: Counter[tuple[str, str]] = Counter()
    due = [p["period"] for p in city.due()]
    for period in city.periods:
        feed = city.feed("", period["period"])
        line = trend[period["period"]]
        assert (line["expected"], line["reported"], line["on_time"]) == (
            feed["city"]["expected"], feed["city"]["reported"], feed["city"]["on_time"])
        assert line["completeness"] == pytest.approx(feed["city"]["completeness"])
        for kind, ratio in feed["by_unit_kind"].items():
            for figure in ("expected", "reported", "on_time"):
                kinds[kind, figure] += ratio[figure] if period["period"] in due else 0
    # the obligations over the periods due: the open one is in the trend only
    situation = {line["unit_kind"]: line for line in sheet(book, "Tình hình báo cáo")}
    # (the broker's other communes, from other modules, are expected too: in both)
    assert situation["Xã"]["expected"] == kinds["commune", "expected"] >= 3 + 2
    for kind, name in (("commune", "Xã"), ("ward", "Phường"), ("department", "Sở, ban, ngành")):
        assert [situation[name][f] for f in ("expected", "reported", "on_time")] == [
            kinds[kind, f] for f in ("expected", "reported", "on_time")]


def test_the_annex_and_the_missing_units_are_the_unit_tables(city) -> None:
    book = workbook(city.compiled("xlsx"))
    annex = {line["code"]: line for line in sheet(book, "Phụ lục theo đơn vị")}
    reported: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    missing: set[tuple[str, str]] = set()
    for period in city.due():
        for row in city.feed("/units", period["period"])["items"]:
            reported[row["code"]] += row["reported"]
            on_time[row["code"]] += row["on_time"]
        missing |= {(u["code"], period["period"]) for u in city.feed(
            "/missing", period["period"])["items"]}
    assert {code: line["reported"] for code, line in annex.items()} == {
        code: reported[code] for code in annex}
    assert {code: line["on_time"] for code, line in annex.items()} == {
        code: on_time[code] for code in annex}
    assert annex["xa-1"]["banner"] >= 1 + 5  # its open period's report counts as work
    assert annex["xa-3"]["expected"] == 1  # retired after the first period
    assert annex["xa-2"]["name"] == FORMULA_NAME
    listed = sheet(book, "Chưa báo cáo, trễ hạn")
    assert {(line["code"], line["period"]) for line in listed
            if line["status"] == "Chưa báo cáo"} == missing
    assert {line["code"] for line in listed if line["status"] == "Trễ hạn"} == {
        "xa-1", "xa-3", "ph-1"}
    cells = [c for row in book["Phụ lục theo đơn vị"].iter_rows() for c in row
             if c.value == FORMULA_NAME]
    assert cells and all(c.data_type == "s" for c in cells)


def word_tables(answer: httpx.Response) -> list[list[list[str]]]:
    document = docx.Document(io.BytesIO(answer.content))
    return [[[cell.text.strip() for cell in row.cells] for row in table.rows]
            for table in document.tables]


def test_the_word_document_states_its_time_and_holds_the_feeds_figures(city) -> None:
    answer = city.compiled("docx")
    as_of = datetime.fromisoformat(answer.headers["x-as-of"])
    document = docx.Document(io.BytesIO(answer.content))
    text = "\n".join(p.text for p in document.paragraphs)
    stated = periods.local_moment(as_of)
    assert f"Số liệu tính đến {stated:%H:%M:%S} ngày {stated:%d/%m/%Y}" in text
    kinds = next(t for t in word_tables(answer) if t[0][0] == "Loại đơn vị")
    feeds = [city.feed("", p["period"])["city"] for p in city.due()]
    assert kinds[-1][:4] == ["Toàn thành phố", *(str(sum(f[k] for f in feeds))
                                                 for k in ("expected", "reported", "on_time"))]


def test_the_same_as_of_gives_the_same_figures_after_more_reports(city) -> None:
    first = city.compiled("xlsx")
    as_of = first.headers["x-as-of"]
    word = word_tables(city.compiled("docx", as_of))
    before = {title: sheet(workbook(first), title) for title in workbook(first).sheetnames}
    city.submit("xa-2", city.periods[0])  # late, after as_of
    city.submit("xa-1", city.periods[-1], banners=9)  # a second revision
    until(lambda: city.reported() == [3, 2, 0, 2], what=lambda: str(city.reported()))
    until(lambda: city.feed("/units", city.periods[-1]["period"], kind="commune")[
        "items"][0]["version"] == 3, what="xa-1's second revision folded")
    again = workbook(city.compiled("xlsx", as_of))
    assert {title: sheet(again, title) for title in again.sheetnames} == before
    assert word_tables(city.compiled("docx", as_of)) == word
    # Without as_of the report stands at the last whole second: one that has begun since
    # the reports arrived holds them.
    time.sleep(1.1)
    now = {line["period"]: line for line in sheet(workbook(city.compiled("xlsx")),
                                                   "Diễn biến qua các kỳ")}
    assert now[city.periods[0]["period"]]["reported"] == 3


def test_a_time_still_to_come_or_a_span_outside_the_campaign_is_refused(city) -> None:
    client = city.aggregator.client(city.leader)
    later = client.get("/v1/reports/compiled", params={
        "campaign": city.campaign, "as_of": str(datetime.now().astimezone()
                                                + timedelta(hours=1))})
    assert later.status_code == 422 and later.json()["error"]["fields"][0]["rule"] == \
        "as_of_in_future"
    outside = client.get("/v1/reports/compiled", params={"campaign": city.campaign,
                                                          "from": "2020-01-01",
                                                          "to": "2020-02-01"})
    assert outside.status_code == 422
    unit = city.aggregator.client(city.tokens["xa-1"]).get("/v1/reports/compiled", params={
        "campaign": city.campaign})
    assert unit.status_code == 403


@pytest.mark.skipif((BROKER, DATABASE) != CONVERTING_LEG,
                    reason="LibreOffice converts on one leg (tansu:sqlite): the files do not "
                           "depend on the leg")
def test_libreoffice_converts_both_files_and_page_one_is_kept_as_an_image(
        city, tmp_path) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for format in ("docx", "xlsx"):
        source = tmp_path / f"bao-cao-{format}.{format}"
        source.write_bytes(city.compiled(format).content)
        done = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://"
                               f"{tmp_path}/lo", "--convert-to", "pdf", "--outdir",
                               str(tmp_path), str(source)], capture_output=True, text=True,
                              timeout=180)
        pdf = source.with_suffix(".pdf")
        assert done.returncode == 0 and pdf.stat().st_size > 0, done.stdout + done.stderr
        assert "Error" not in done.stderr
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "bao-cao-docx.pdf"), str(OUTPUT / "compiled-report-page1")],
                   check=True, timeout=60)
    assert (OUTPUT / "compiled-report-page1.png").stat().st_size > 10_000


def test_the_portal_gives_the_leadership_both_files_and_shows_a_refusal_beside_its_input(
        city, module_services) -> None:
    portal = module_services("portal", registry_url=city.registry.url,
                             reporting_url=city.reporting.url,
                             aggregator_url=city.aggregator.url, campaign=city.campaign)
    browser = httpx.Client(base_url=portal.url, timeout=60, follow_redirects=True)
    page = browser.get("/dang-nhap").text
    signed = browser.post("/dang-nhap", data={"csrf": _value(page, "csrf"),
                                              "token": city.leader})
    assert signed.status_code == 200 and "Báo cáo tổng hợp" in signed.text
    form = browser.get("/lanh-dao/bao-cao-tong-hop")
    assert form.status_code == 200
    assert _value(form.text, "tu-ngay") == city.periods[0]["period_start"]

    as_of = city.compiled("xlsx").headers["x-as-of"]
    local = periods.local_moment(datetime.fromisoformat(as_of)).strftime("%Y-%m-%dT%H:%M:%S")
    word = browser.get("/lanh-dao/bao-cao-tong-hop.docx", params={"tinh-den": local})
    assert word.status_code == 200 and word.headers["x-as-of"] == as_of
    assert word_tables(word) == word_tables(city.compiled("docx", as_of))
    book = browser.get("/lanh-dao/bao-cao-tong-hop.xlsx", params={"tinh-den": local})
    assert sheet(workbook(book), "Phụ lục theo đơn vị") == sheet(
        workbook(city.compiled("xlsx", as_of)), "Phụ lục theo đơn vị")

    later = (periods.local_moment(datetime.now(periods.LOCAL_ZONE)) + timedelta(days=1))
    refused = browser.get("/lanh-dao/bao-cao-tong-hop.docx", params={
        "tinh-den": later.strftime("%Y-%m-%dT%H:%M:%S")})
    assert refused.status_code == 422
    assert 'id="tinh-den-error"' in refused.text and "chưa tới" in refused.text


def _value(page: str, name: str) -> str:
    """An input's value, as the page gives it."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the page"
    return found[1]
