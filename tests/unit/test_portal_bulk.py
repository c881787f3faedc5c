"""A unit's officer reports with a file from the portal, in process: the portal's pages run
against the reporting service's own routes (its migrated SQLite database) through a stand-in
for the portal's HTTP client. The template comes through the portal under the session's
token; the filled file goes to intake as it is, and the page lists each bad row's line,
column and reason in Vietnamese."""

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from services.portal.app import create_app
from services.portal.backends import Answer
from services.portal.pages import SESSION_COOKIE
from services.portal.sessions import PortalSession
from services.portal.settings import PortalSettings
from services.reporting import bulk
from tests.unit.apps import bearer
from tests.unit.test_bulk_excel import BROADCAST, fill
from tests.unit.test_bulk_excel import client as reporting  # noqa: F401 (a fixture)


class Reporting:
    """The portal's Backends, answered by the reporting service's routes in process."""

    def __init__(self, service: TestClient) -> None:
        self.service = service
        self.sent: list[str] = []

    async def _call(self, method: str, service: str, path: str, token: str,
                    params: dict[str, Any] | None = None, raw: bool = False,
                    **request: Any) -> Answer:
        assert (method, service, raw) == ("GET", "reporting", True)
        answer = self.service.get(path, headers=bearer(token), params=params)
        return Answer(answer.status_code, answer.content if answer.is_success
                      else answer.json())

    async def send(self, service: str, path: str, token: str, content: bytes,
                   content_type: str, **params: Any) -> Answer:
        self.sent.append(content_type)
        answer = self.service.post(path, content=content, params=params, headers=bearer(
            token) | {"content-type": content_type})
        return Answer(answer.status_code, answer.json())


@pytest.fixture
def officer(reporting) -> tuple[TestClient, PortalSession, Reporting]:  # noqa: F811
    app = create_app(PortalSettings())
    app.state.backends = Reporting(reporting)
    session = app.state.sessions.open(PortalSession("unit:xa-1", "unit", "xa-1", "commune",
                                                    "Xã 1"))
    browser = TestClient(app)
    browser.cookies.set(SESSION_COOKIE, session.id)
    return browser, session, app.state.backends


def template_of(browser: TestClient) -> Any:
    answer = browser.get("/don-vi/xa-1/mau-bao-cao.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == bulk.XLSX
    assert 'filename="mau-bao-cao-dai-hoi-xiv.xlsx"' in answer.headers["content-disposition"]
    return load_workbook(io.BytesIO(answer.content))


def send(browser: TestClient, session: PortalSession, body: bytes, name: str) -> Any:
    return browser.post("/don-vi/xa-1/nop-tep", data={"csrf": session.csrf},
                        files={"file": (name, body, "application/octet-stream")})


def test_the_template_from_the_portal_filled_and_sent_back_is_accepted(officer) -> None:
    browser, session, backends = officer
    book = template_of(browser)
    assert book.worksheets[0].title == "Báo cáo"
    body = fill(book, [
        {"period": "2026-W04", "kind": BROADCAST, "count": 2, "day": "19/01/2026",
         "report_id": "cong-w04"},
        {"period": "2026-W04", "kind": "Bài đăng mạng xã hội", "count": 3, "platform": "Zalo",
         "format": "Video"}])
    page = send(browser, session, body, "bao-cao.xlsx")
    assert page.status_code == 200, page.text
    assert backends.sent == [bulk.XLSX]
    assert "Được nhận: 1 kỳ; đã nhận trước đó: 0 kỳ; bị trả lại: 0 kỳ" in page.text
    assert 'href="/don-vi/xa-1/bien-nhan/cong-w04"' in page.text
    assert "Các dòng cần sửa" not in page.text


def test_a_bad_row_is_listed_with_its_line_column_and_reason_in_vietnamese(officer) -> None:
    browser, session, backends = officer
    text = ("Kỳ báo cáo,Loại hoạt động,Số lượng,Ngày phát thanh\n"
            "2026-W04,Băng rôn,1,\n"  # not a kind: line 2
            f"2026-W05,{BROADCAST},150,27/01/2026\n"
            "2026-W06,banner,1,\n")
    page = send(browser, session, text.encode(), "bao-cao.csv")
    assert page.status_code == 200, page.text
    assert backends.sent == [bulk.CSV]
    assert "bị trả lại: 2 kỳ" in page.text
    assert "Dòng 2, cột “Loại hoạt động” (kind)" in page.text
    assert "Dòng 3, cột “Số lượng” (count): lớn hơn mức cho phép" in page.text
    assert "/ Line" not in page.text  # the Vietnamese alone, on a Vietnamese page
    english = browser.post("/don-vi/xa-1/nop-tep", data={"csrf": session.csrf},
                           cookies={"hp_lang": "en"},
                           files={"file": ("bao-cao.csv", text.encode(), "text/csv")})
    assert "Line 3, column “Số lượng” (count)" in english.text


def test_a_file_intake_cannot_read_is_refused_with_its_reason(officer) -> None:
    browser, session, _ = officer
    page = send(browser, session, b"PK\x03\x04 not really a workbook", "bao-cao.xlsx")
    assert page.status_code == 400
    assert "Tệp không được nhận:" in page.text and "không phải bảng tính Excel" in page.text


def test_a_file_without_the_forms_csrf_is_refused_and_not_sent(officer) -> None:
    browser, _, backends = officer
    page = browser.post("/don-vi/xa-1/nop-tep", data={"csrf": "khac"},
                        files={"file": ("bao-cao.csv", b"period,kind\n", "text/csv")})
    assert page.status_code == 403 and backends.sent == []


def test_another_units_officer_cannot_use_the_page(officer) -> None:
    browser, session, backends = officer
    assert browser.get("/don-vi/xa-2/mau-bao-cao.xlsx").status_code == 403
    refused = browser.post("/don-vi/xa-2/nop-tep", data={"csrf": session.csrf},
                           files={"file": ("bao-cao.csv", b"period,kind\n", "text/csv")})
    assert refused.status_code == 403 and backends.sent == []
