"""The portal's files for Excel, in process: each table as XLSX beside its CSV, the XLSX's
figures those of the JSON feed the page shows, a unit named like a formula a text cell in
every one. The portal's pages run against the real aggregator and registry routes (their
migrated SQLite databases) through a stand-in for the portal's HTTP client."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.aggregator.api import router as aggregator_router
from services.aggregator.hub import ProgressHub
from services.aggregator.migrations import MIGRATIONS as AGGREGATOR_MIGRATIONS
from services.portal.app import create_app
from services.portal.backends import Answer
from services.portal.pages import SESSION_COOKIE
from services.portal.sessions import PortalSession
from services.portal.settings import PortalSettings
from services.registry.api import router as registry_router
from services.registry.migrations import MIGRATIONS as REGISTRY_MIGRATIONS
from services.web.spreadsheets import MEDIA_TYPE
from tests.unit.apps import bearer, client
from tests.unit.test_aggregator_rules import Aggregates, broadcasts, report, unit
from tests.unit.test_spreadsheets import records_of, sheet_of, table_of

PERIOD = "2026-W04"
FORMULA = '=HYPERLINK("http://evil.example","Bấm vào đây")'


class Download:
    def __init__(self, status: int, content: bytes) -> None:
        self.status, self._content = status, content

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._content

    async def close(self) -> None:
        return None


class Services:
    """The portal's Backends, answered by the services' own routes in process."""

    def __init__(self, aggregator: TestClient, registry: TestClient) -> None:
        self.clients = {"aggregator": aggregator, "registry": registry}

    async def get(self, service: str, path: str, token: str, **params: Any) -> Answer:
        answer = self.clients[service].get(path, headers=bearer(token), params={
            k: v for k, v in params.items() if v is not None})
        return Answer(answer.status_code, answer.json())

    async def download(self, token: str, path: str, **params: Any) -> Download:
        answer = self.clients["aggregator"].get(path, headers=bearer(token), params={
            k: v for k, v in params.items() if v is not None})
        return Download(answer.status_code, answer.content)

    async def post(self, service: str, path: str, token: str, body: Any,
                   headers: dict[str, str] | None = None, raw: bool = False) -> Answer:
        answer = self.clients[service].post(path, json=body,
                                            headers=bearer(token) | (headers or {}))
        return Answer(answer.status_code, answer.content if raw and answer.is_success
                      else answer.json())


@pytest.fixture
def aggregator(migrated) -> TestClient:
    aggregates = Aggregates(migrated(AGGREGATOR_MIGRATIONS))
    aggregates.add(unit("xa-1", name=FORMULA), unit("xa-2", name="=1+2"),
                   unit("ph-1", "ward", name="Phường Hồng Bàng"))
    aggregates.fold(report("xa-1", activities=[
        {"kind": "social_post", "count": 3, "platform": "zalo", "format": "news"},
        *broadcasts(dict.fromkeys(range(19, 26), 1))]))
    return client(aggregator_router, aggregates.engine, directory=aggregates.directory,
                  hub=ProgressHub())


@pytest.fixture
def registry(migrated) -> TestClient:
    return client(registry_router, migrated(REGISTRY_MIGRATIONS))


def portal(aggregator: TestClient, registry: TestClient, scope: str) -> tuple[TestClient,
                                                                            PortalSession]:
    app = create_app(PortalSettings())
    app.state.backends = Services(aggregator, registry)
    token = "lanh-dao" if scope == "leadership" else "admin"
    session = app.state.sessions.open(PortalSession(token, scope, None, None, token))
    browser = TestClient(app)
    browser.cookies.set(SESSION_COOKIE, session.id)
    return browser, session


@pytest.fixture
def leader(aggregator, registry) -> TestClient:
    return portal(aggregator, registry, "leadership")[0]


def test_the_period_tables_come_as_xlsx_with_the_feeds_figures(leader, aggregator) -> None:
    units = leader.get(f"/lanh-dao/ky/{PERIOD}/don-vi.xlsx")
    assert units.status_code == 200, units.text
    assert units.headers["content-type"] == MEDIA_TYPE
    assert f'filename="don-vi-dai-hoi-xiv-{PERIOD}.xlsx"' in \
        units.headers["content-disposition"]
    feed = aggregator.get("/v1/progress/units", headers=bearer("lanh-dao"), params={
        "campaign": "dai-hoi-xiv", "period": PERIOD}).json()["items"]
    rows = records_of(units.content)
    assert [(r["code"], r["reported"], r["social_post"], r["loudspeaker_total"])
            for r in rows] == [(u["code"], "Có" if u["reported"] else "Không",
                                u["activities"]["social_post"], u["loudspeaker_total"])
                               for u in feed]
    missing = records_of(leader.get(f"/lanh-dao/ky/{PERIOD}/chua-nop.xlsx").content)
    assert [m["code"] for m in missing] == ["ph-1", "xa-2"]


def test_the_table_per_unit_kind_as_xlsx_ends_with_the_city(leader, aggregator) -> None:
    answer = leader.get(f"/lanh-dao/ky/{PERIOD}/loai-don-vi.xlsx")
    summary = aggregator.get("/v1/progress", headers=bearer("lanh-dao"), params={
        "campaign": "dai-hoi-xiv", "period": PERIOD}).json()
    assert sheet_of(answer.content).title == "Theo loại đơn vị"
    expected = [(kind, r["expected"], r["reported"], r["completeness"])
                for kind, r in [*summary["by_unit_kind"].items(), ("city", summary["city"])]]
    rows = records_of(answer.content, "unit_kind")
    assert [(r["unit_kind"], r["expected"], r["reported"], r["completeness"])
            for r in rows] == expected
    assert [r["unit_kind_name"] for r in rows][-1] == "Toàn thành phố"
    assert "Xã" in [r["unit_kind_name"] for r in rows]


def test_the_overview_as_xlsx_has_a_row_per_period_with_dates_and_ratios(
        leader, aggregator) -> None:
    answer = leader.get("/lanh-dao/tong-quan.xlsx")
    assert answer.status_code == 200, answer.text
    feed = aggregator.get("/v1/progress/overview", headers=bearer("lanh-dao"),
                          params={"campaign": "dai-hoi-xiv"}).json()["items"]
    rows = records_of(answer.content, "period")
    assert [(r["period"], r["period_start"].date().isoformat(), r["expected"],
             r["completeness"]) for r in rows] == [
        (p["period"], p["period_start"], p["city"]["expected"], p["city"]["completeness"])
        for p in feed]
    codes, cells = table_of(answer.content, "period")
    assert cells[0][1].number_format == "dd/mm/yyyy"
    assert "commune_completeness" in [c.value for c in codes]


def test_each_csv_has_the_vietnamese_headers_then_the_codes_or_the_codes_alone(
        leader) -> None:
    for path, first in (("/lanh-dao/tong-quan", "period"),
                        (f"/lanh-dao/ky/{PERIOD}/loai-don-vi", "unit_kind"),
                        (f"/lanh-dao/ky/{PERIOD}/don-vi", "code")):
        answer = leader.get(path + ".csv")
        assert answer.headers["content-type"] == "text/csv; charset=utf-8", path
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert rows[1][0] == first and rows[0][0] != first, path
        scripts = leader.get(path + ".csv", params={"header": "code"})
        assert scripts.content.decode("utf-8-sig").startswith(first + ","), path


def test_a_formula_like_unit_name_is_a_text_cell_in_every_portal_xlsx(
        leader, aggregator, registry) -> None:
    for table in ("don-vi", "chua-nop"):
        codes, rows = table_of(leader.get(f"/lanh-dao/ky/{PERIOD}/{table}.xlsx").content)
        names = {str(r[0].value): r[1] for r in rows}
        assert (names["xa-2"].value, names["xa-2"].data_type) == ("=1+2", "s"), table
        if "xa-1" in names:
            assert (names["xa-1"].value, names["xa-1"].data_type) == (FORMULA, "s")
    admin, session = portal(aggregator, registry, "admin")
    code = registry.post("/v1/units", headers=bearer("admin"), json={
        "name": "=1+2", "kind": "commune"}).json()["code"]
    issued = admin.post("/quan-tri/ma-truy-cap/nhieu", data={
        "csrf": session.csrf, "unit_codes": code, "label": "Đợt 1", "file": "xlsx"})
    assert issued.status_code == 200, issued.text
    assert issued.headers["content-type"] == MEDIA_TYPE
    assert 'filename="ma-truy-cap.xlsx"' in issued.headers["content-disposition"]
    name = table_of(issued.content)[1][0][1]
    assert (name.value, name.data_type) == ("=1+2", "s")


def test_the_tokens_still_come_as_csv_from_the_other_button(aggregator, registry) -> None:
    admin, session = portal(aggregator, registry, "admin")
    code = registry.post("/v1/units", headers=bearer("admin"), json={
        "name": "Xã An Hưng", "kind": "commune"}).json()["code"]
    issued = admin.post("/quan-tri/ma-truy-cap/nhieu", data={
        "csrf": session.csrf, "unit_codes": code, "label": "Đợt 1", "file": "csv"})
    rows = list(csv.reader(io.StringIO(issued.content.decode("utf-8-sig"))))
    assert rows[1] == ["code", "name", "credential_id", "token"]
    assert rows[2][:2] == [code, "Xã An Hưng"]


def test_the_overview_page_offers_excel_beside_csv_and_refuses_other_files(leader) -> None:
    page = leader.get("/lanh-dao").text
    assert 'href="/lanh-dao/tong-quan.xlsx"' in page and "Tải Excel (.xlsx)" in page
    assert 'href="/lanh-dao/tong-quan.csv"' in page
    assert leader.get("/lanh-dao/tong-quan.pdf").status_code == 404
    assert leader.get(f"/lanh-dao/ky/{PERIOD}/don-vi.ods").status_code == 404
