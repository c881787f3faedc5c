"""Reports received on paper or by email, end to end: a real registry, reporting service and
aggregator on the leg's broker and database. Weeks after a period's deadline, the
Department's staff enter two units' paper reports: one stated as received before the
deadline counts on time in the aggregator's feeds, the other late, and each unit's row
names who entered it.
"""

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services import periods
from services.events import ReportingPeriod
from tests.rig import ServiceProcess, until

pytestmark = pytest.mark.integration
LABEL = "Trần Thị B, Phòng Báo chí - Xuất bản"


@pytest.fixture(scope="module")
def stack(module_services) -> dict[str, Any]:
    """The three services, a campaign whose first week is three weeks past, two communes
    and a Department credential."""
    registry: ServiceProcess = module_services("registry")
    reporting, aggregator = module_services("reporting"), module_services("aggregator")
    code = f"giay-{uuid.uuid4().hex[:6]}"
    today = periods.today()
    monday = today - timedelta(days=today.weekday() + 21)
    registry.admin().post("/v1/campaigns", json={
        "code": code, "name": "Chiến dịch thử (bản giấy)", "starts_on": str(monday),
        "ends_on": str(today + timedelta(days=28)), "peak_windows": [],
        "targets": {"commune": {}}}).raise_for_status()
    units = [f"xa-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for unit in units:
        registry.admin().post("/v1/units", json={
            "code": unit, "name": f"Xã {unit}", "kind": "commune",
            "active_from": "2025-07-01"}).raise_for_status()
    token = registry.admin().post("/v1/credentials", json={
        "scope": "department", "label": LABEL}).json()["token"]
    return {"registry": registry, "reporting": reporting, "aggregator": aggregator,
            "campaign": code, "units": units, "token": token, "monday": monday,
            "period": periods.name_of(monday, ReportingPeriod.iso_week)}


def enter(stack: dict[str, Any], unit: str, received_at: str) -> dict[str, Any]:
    """Enter a unit's paper report, once the reporting service knows the unit and token."""
    answers: list[Any] = []

    def sent() -> bool:
        answer = stack["reporting"].client(stack["token"]).post("/v1/reports/on-behalf", json={
            "unit": unit, "campaign": stack["campaign"], "period": stack["period"],
            "activities": [{"kind": "banner", "count": 2}], "received_at": received_at,
            "note": "Nhận bản giấy, công văn số 12/UBND"})
        assert answer.status_code in (201, 401, 422), answer.text
        answers.append(answer)
        return answer.status_code == 201

    until(sent, what=lambda: f"{unit}'s paper report: {answers[-1].text}")
    return dict(answers[-1].json())


def feed(stack: dict[str, Any], path: str = "") -> Any:
    answer = stack["aggregator"].client(stack["token"]).get(f"/v1/progress{path}", params={
        "campaign": stack["campaign"], "period": stack["period"]})
    return answer.json() if answer.status_code == 200 else None


def entered_on_behalf(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """The registry's audit entries of the campaign's reports entered on a unit's behalf,
    newest first."""
    answer = stack["registry"].admin().get("/v1/audit", params={"entity": "report"})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["items"] if e["action"] == "entered_on_behalf"
            and e["entity_id"].startswith(f"{stack['campaign']}/")]


def test_paper_reports_count_by_their_stated_reception_and_name_who_entered_them(
        stack) -> None:
    sunday: date = stack["monday"] + timedelta(days=6)
    on_time, late = stack["units"]
    # The deadline, 17:00 on the Monday after the week, passed two weeks ago.
    assert enter(stack, on_time, f"{sunday}T10:00")["on_time"] is True
    receipt = enter(stack, late, f"{sunday + timedelta(days=1)}T17:30")
    assert receipt["on_time"] is False and receipt["entered_by"]["label"] == LABEL

    until(lambda: len(entered_on_behalf(stack)) == 2,
          what=lambda: f"the two paper reports in the audit trail: {entered_on_behalf(stack)}")
    for entry, unit in zip(entered_on_behalf(stack), (late, on_time), strict=True):
        assert entry["entity_id"] == f"{stack['campaign']}/{stack['period']}/{unit}"
        assert entry["actor"] == entry["actor"] | {"scope": "department", "label": LABEL}
        assert entry["note"] == "Nhận bản giấy, công văn số 12/UBND"
    assert entry["changes"]["on_time"] is True and entry["changes"]["version"] == 1

    until(lambda: (feed(stack) or {}).get("city", {}).get("reported") == 2,
          what=lambda: f"the period's progress: {feed(stack)}")
    city = feed(stack)["city"]
    # (other modules' communes, on the same broker, are expected too: they sent nothing)
    assert (city["reported"], city["on_time"]) == (2, 1) and city["expected"] >= 2
    rows = {row["code"]: row for row in feed(stack, "/units")["items"]}
    assert (rows[on_time]["on_time"], rows[late]["on_time"]) == (True, False)
    assert rows[on_time]["entered_by"] == rows[late]["entered_by"] == LABEL

    # a paper report stated as received before the one standing cannot replace it
    earlier = stack["reporting"].client(stack["token"]).post("/v1/reports/on-behalf", json={
        "unit": on_time, "campaign": stack["campaign"], "period": stack["period"],
        "activities": [], "received_at": f"{sunday}T09:00", "note": "Bản fax"})
    assert earlier.status_code == 409, earlier.text
    assert earlier.json()["error"]["fields"][0] == earlier.json()["error"]["fields"][0] | {
        "field": "received_at", "rule": "received_before_latest"}


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the page"
    return found[1]


@pytest.fixture(scope="module")
def staff(module_services, stack) -> httpx.Client:
    """A Department staff member signed in to the portal (dai-hoi-xiv, its default campaign,
    whose weeks are all past)."""
    portal = module_services("portal", registry_url=stack["registry"].url,
                             reporting_url=stack["reporting"].url,
                             aggregator_url=stack["aggregator"].url)
    browser = httpx.Client(base_url=portal.url, timeout=30, follow_redirects=True)
    page = browser.get("/dang-nhap").text
    signed = browser.post("/dang-nhap", data={"csrf": hidden(page, "csrf"),
                                              "token": stack["token"]})
    assert signed.status_code == 200 and str(signed.url).endswith("/so/nhap-thay")
    assert "2026-W04" in signed.text
    return browser


def post_form(staff: httpx.Client, **inputs: str) -> httpx.Response:
    page = staff.get("/so/nhap-thay/2026-W04").text
    return staff.post("/so/nhap-thay/2026-W04", data={
        "csrf": hidden(page, "csrf"), "lan-gui": hidden(page, "lan-gui"),
        "article-so": "3", "article-kenh": "radio"} | inputs)


def test_the_portal_form_enters_a_paper_report_and_shows_its_receipt(stack, staff) -> None:
    unit = stack["units"][0]
    answer = post_form(staff, **{"don-vi": unit, "ngay-nhan": "2026-01-26",
                                 "gio-nhan": "16:30", "ghi-chu-nhan": "Công văn số 7/UBND"})
    assert answer.status_code == 200, answer.text
    assert LABEL in answer.text and "Công văn số 7/UBND" in answer.text
    assert "16:30 26/01/2026" in answer.text  # the stated reception, on time
    report_id = re.search(r'id="report-id">([^<]+)<', answer.text)
    assert report_id is not None
    stored = stack["reporting"].client(stack["token"]).get(
        f"/v1/reports/{report_id[1]}", params={"unit": unit}).json()
    assert (stored["on_time"], stored["entered_by"]["note"]) == (True, "Công văn số 7/UBND")
    assert stored["activities"] == [{"kind": "article", "count": 3, "channel": "radio",
                                     "evidence_urls": []}]


def test_the_portal_form_shows_each_refusal_beside_its_input(stack, staff) -> None:
    unit = stack["units"][1]
    missing = post_form(staff, **{"don-vi": unit, "ngay-nhan": "2026-01-26"})
    assert missing.status_code == 422
    assert re.search(r'id="ghi-chu-nhan-error" class="error">Cần điền mục này', missing.text)
    future = post_form(staff, **{"don-vi": unit, "ngay-nhan": "2099-01-26",
                                 "ghi-chu-nhan": "Thư điện tử"})
    assert future.status_code == 422
    assert 'id="ngay-nhan-error" class="error">Thời điểm nhận chưa tới' in future.text
    unknown = post_form(staff, **{"don-vi": "xa-khong-co", "ngay-nhan": "2026-01-26",
                                  "ghi-chu-nhan": "Thư điện tử"})
    assert 'id="don-vi-error" class="error">Không có đơn vị mang mã này' in unknown.text
