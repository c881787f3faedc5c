"""The bulk intake template end to end: a real registry, reporting service and aggregator on
the leg's broker and database. A commune downloads its campaign's workbook, fills it in as
a person would (Vietnamese names from the drop-downs, days as dd/mm/yyyy text and as date
cells), sends it back, and the aggregator's progress for the period counts what it said.
"""

import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import load_workbook

from services import periods
from services.events import ReportingPeriod
from services.reporting import bulk, template
from tests.rig import ServiceProcess, on_legs, until

pytestmark = on_legs("tansu:sqlite", why="the template's path through the stack is the same "
                     "on every leg; the bulk format's rules are tested on all (test_reporting)")


def test_the_filled_template_is_accepted_and_counted_by_the_aggregator(module_services) -> None:
    registry: ServiceProcess = module_services("registry")
    reporting, aggregator = module_services("reporting"), module_services("aggregator")
    code, unit = f"mau-{uuid.uuid4().hex[:6]}", f"xa-{uuid.uuid4().hex[:6]}"
    today = periods.today()
    monday = today - timedelta(days=today.weekday() + 14)
    registry.admin().post("/v1/campaigns", json={
        "code": code, "name": "Chiến dịch thử (mẫu Excel)", "starts_on": str(monday),
        "ends_on": str(today + timedelta(days=28)), "peak_windows": [],
        "targets": {"commune": {}}}).raise_for_status()
    registry.admin().post("/v1/units", json={
        "code": unit, "name": f"Xã {unit}", "kind": "commune",
        "active_from": "2025-07-01"}).raise_for_status()
    token = registry.admin().post("/v1/credentials", json={
        "scope": "unit", "unit_code": unit, "label": "cán bộ"}).json()["token"]
    leader = registry.admin().post("/v1/credentials", json={
        "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]

    book = load_workbook(io.BytesIO(_template(reporting, token, code)))
    sheet = book.worksheets[0]
    period = periods.name_of(monday, ReportingPeriod.iso_week)
    following = periods.name_of(monday + timedelta(days=7), ReportingPeriod.iso_week)
    rows: list[dict[str, Any]] = [
        {"period": period, "kind": "Buổi phát thanh trên loa truyền thanh cơ sở", "count": 2,
         "day": monday.strftime("%d/%m/%Y"), "report_id": "mau-1"},
        {"period": period, "kind": "Buổi phát thanh trên loa truyền thanh cơ sở", "count": 1,
         "day": monday + timedelta(days=1)},
        {"period": period, "kind": "Bài đăng mạng xã hội", "count": 3, "platform": "Zalo",
         "format": "Video", "note": "Trang Zalo của xã"},
        # the next week's rows: one day of them is in this week, named on its own row
        {"period": following, "kind": "loudspeaker_broadcast", "count": 1,
         "day": (monday + timedelta(days=7)).strftime("%d/%m/%Y")},
        {"period": following, "kind": "loudspeaker_broadcast", "count": 1,
         "day": monday.strftime("%d/%m/%Y")}]
    for number, row in enumerate(rows, template.FIRST_ROW):
        for column, value in row.items():
            sheet.cell(number, bulk.COLUMNS.index(column) + 1, value)
    out = io.BytesIO()
    book.save(out)

    answer = httpx.post(reporting.url + "/v1/reports/bulk", params={"campaign": code},
                        content=out.getvalue(), timeout=30, headers={
                            "authorization": f"Bearer {token}", "content-type": bulk.XLSX})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert [r["line"] for r in result["rows"]] == [5, 6, 7, 8, 9]
    assert [[e["rule"] for e in r["errors"]] for r in result["rows"]] == [
        [], [], [], [], ["day_outside_period"]]
    stored = reporting.client(token).get("/v1/reports/mau-1").json()
    kinds = {activity["kind"]: activity for activity in stored["activities"]}
    assert kinds["social_post"]["format"] == "video"
    assert kinds["loudspeaker_broadcast"]["daily_counts"] == {
        str(monday): 2, str(monday + timedelta(days=1)): 1}

    def progress() -> dict[str, Any]:
        found = aggregator.client(leader).get("/v1/progress", params={
            "campaign": code, "period": period})
        return dict(found.json()) if found.status_code == 200 else {}

    until(lambda: progress().get("city", {}).get("reported") == 1,
          what=lambda: f"the period's progress: {progress()}")
    totals = progress()["totals"]
    assert totals["by_activity_kind"] == {"loudspeaker_broadcast": 3, "social_post": 3}
    assert totals["by_platform"] == {"social_post:zalo": 3}


def _template(reporting: ServiceProcess, token: str, campaign: str) -> bytes:
    """The campaign's template, once reporting knows the token and the campaign."""
    answers: list[httpx.Response] = []

    def ready() -> bool:
        answers.append(reporting.client(token).get("/v1/reports/bulk/template.xlsx",
                                                   params={"campaign": campaign}))
        return answers[-1].status_code == 200

    until(ready, what=lambda: f"the template: {answers[-1].status_code} {answers[-1].text}")
    return answers[-1].content
