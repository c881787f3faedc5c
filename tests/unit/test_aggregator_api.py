"""The progress feeds over HTTP, in process: who may read, the refusals, the CSV for Excel,
and an OpenAPI document that describes every field. Real migrated SQLite, no broker."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.aggregator.api import router
from services.aggregator.hub import ProgressHub
from services.aggregator.migrations import MIGRATIONS
from services.events import CredentialSnapshot
from services.web.auth import Caller
from services.web.errors import install_error_handlers
from services.web.spreadsheets import MEDIA_TYPE
from tests.unit.test_aggregator_rules import Aggregates, broadcasts, report, unit
from tests.unit.test_spreadsheets import records_of, sheet_of

PERIOD = {"campaign": "dai-hoi-xiv", "period": "2026-W04"}
UNIT_CODES = {"code", "name", "kind", "parent", "version", "entered_by", "loudspeaker_total",
              "peak_day_least"}


def credential(token: str, scope: str, unit_code: str | None = None) -> CredentialSnapshot:
    return CredentialSnapshot(id=token, scope=scope, unit_code=unit_code, label=token,
                              token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                              issued_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def aggregates(migrated) -> Iterator[Aggregates]:
    found = Aggregates(migrated(MIGRATIONS))
    found.add(unit("xa-1", parent="31"), unit("xa-2"), unit("ph-1", "ward", parent="01"))
    found.directory.credentials = {c.token_sha256: c for c in (
        credential("lanh-dao", "leadership"), credential("don-vi", "unit", "xa-1"))}
    found.fold(report("xa-1", activities=[
        {"kind": "social_post", "count": 3, "platform": "zalo", "format": "news"},
        *broadcasts(dict.fromkeys(range(19, 26), 1))]))
    yield found


@pytest.fixture
def client(aggregates) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.engine, app.state.directory = aggregates.engine, aggregates.directory
    app.state.hub = ProgressHub()
    by_directory = aggregates.directory.caller
    app.state.identify = lambda token: Caller("admin") if token == "admin" \
        else by_directory(token)
    return TestClient(app)


def get(client: TestClient, path: str, token: str | None = "lanh-dao", **params: str) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/v1/progress{path}", params=PERIOD | params, headers=headers)


def test_leadership_and_admin_read_the_feeds(client) -> None:
    for token in ("lanh-dao", "admin"):
        response = get(client, "", token)
        assert response.status_code == 200, response.text
        assert response.json()["city"] == {"expected": 3, "reported": 1, "on_time": 1,
                                           "completeness": 0.3333, "timeliness": 0.3333}


def test_a_unit_credential_is_refused_and_no_credential_is_unauthenticated(client) -> None:
    refused = get(client, "", "don-vi")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    anonymous = get(client, "", None)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert get(client, "/missing", "not-a-token").status_code == 401


def test_an_unknown_campaign_or_unit_is_not_found_and_a_bad_period_is_invalid(client) -> None:
    unknown = get(client, "", campaign="khong-co")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "campaign_unknown", "message": "no campaign with code 'khong-co'",
        "fields": [{"field": "campaign", "rule": "campaign_unknown",
                    "message": "no campaign with code 'khong-co'"}]}
    bad = get(client, "/missing", period="2026-W99")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0] | {"message": ""} == {
        "field": "period", "rule": "period_format", "message": ""}
    nobody = client.get("/v1/progress/units/xa-9", params={"campaign": "dai-hoi-xiv"},
                        headers={"authorization": "Bearer lanh-dao"})
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "unit_not_found"


def test_the_period_feed_keeps_its_shape(client) -> None:
    body = get(client, "").json()
    assert list(body) == ["campaign", "period", "period_start", "period_end", "deadline",
                          "unit_kind", "parent", "city", "by_unit_kind", "missing", "totals",
                          "coverage", "loudspeaker"]
    assert (body["period_start"], body["period_end"], body["unit_kind"]) == (
        "2026-01-19", "2026-01-25", None)
    assert datetime.fromisoformat(body["deadline"]) == datetime(2026, 1, 26, 10, tzinfo=UTC)
    assert body["totals"]["by_platform"] == {"social_post:zalo": 3}
    assert body["coverage"]["city"]["platforms"] == {"facebook": False, "zalo": True,
                                                     "youtube": False, "tiktok": False}
    assert body["loudspeaker"] == {"units_checked": 1, "units_failing": 0,
                                   "units_below_weekly": 0, "units_below_daily": 0}
    assert body["missing"] == 2


def test_missing_units_as_a_page_and_as_csv(client) -> None:
    assert get(client, "/missing").json() == {"items": [
        {"code": "ph-1", "name": "Đơn vị ph-1", "kind": "ward", "parent": "01"},
        {"code": "xa-2", "name": "Đơn vị xa-2", "kind": "commune", "parent": None}],
        "total": 2,
        "next_cursor": None}
    table = get(client, "/missing", format="csv", kind="ward")
    assert table.content.decode("utf-8-sig").splitlines() == [
        "Mã đơn vị,Tên đơn vị,Loại đơn vị (mã),"
        "\"Mã tỉnh, thành phố\"", "code,name,kind,parent", "ph-1,Đơn vị ph-1,ward,01"]
    for_scripts = get(client, "/missing", format="csv", kind="ward", header="code")
    assert for_scripts.content.decode("utf-8-sig").splitlines() == [
        "code,name,kind,parent", "ph-1,Đơn vị ph-1,ward,01"]


def test_the_period_table_for_excel(client) -> None:
    response = get(client, "", format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="progress-dai-hoi-xiv-2026-W04.csv"' in \
        response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    header, codes, *rows = response.content.decode("utf-8-sig").splitlines()
    assert header.startswith("Mã đơn vị,Tên đơn vị,Loại đơn vị (mã),\"Mã tỉnh, thành phố\","
                             "Đã báo cáo,Đúng hạn,Phiên bản báo cáo,Người nhập thay đơn vị,"
                             "\"Băng rôn, khẩu hiệu, pano, áp phích\",")
    assert codes == ("code,name,kind,parent,reported,on_time,version,entered_by,banner,"
                     "portal_column,"
                     "document_publication,article,social_post,foreign_language_item,"
                     "multimedia_product,loudspeaker_broadcast,mobilisation,"
                     "loudspeaker_total,peak_day_least,platforms,languages")
    assert rows == ["xa-1,Đơn vị xa-1,commune,31,Có,Có,1,,0,0,0,0,3,0,0,7,0,7,1,zalo,",
                    "xa-2,Đơn vị xa-2,commune,,Không,Không,,,0,0,0,0,0,0,0,0,0,0,0,,",
                    "ph-1,Đơn vị ph-1,ward,01,Không,Không,,,0,0,0,0,0,0,0,0,0,0,0,,"]
    for_scripts = get(client, "", format="csv", header="code")
    assert for_scripts.content.decode("utf-8-sig").splitlines() == [codes, *rows]


def test_the_period_table_as_xlsx_holds_the_figures_of_the_json_table(client) -> None:
    response = get(client, "", format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    assert 'filename="progress-dai-hoi-xiv-2026-W04.xlsx"' in \
        response.headers["content-disposition"]
    sheet = sheet_of(response.content)
    assert sheet.title == "Tiến độ theo đơn vị" and sheet.freeze_panes == "A4"
    heading = str(sheet["A1"].value)
    assert heading.startswith("Tiến độ báo cáo theo đơn vị: ")
    assert "kỳ 2026-W04 (19/01/2026 – 25/01/2026)" in heading and "Số liệu lúc " in heading
    assert sheet.auto_filter.ref == "A3:U6"
    json_rows = get(client, "/units").json()["items"]
    yes_no = {True: "Có", False: "Không"}
    assert records_of(response.content) == [
        {**{k: v for k, v in row.items() if k in UNIT_CODES}, **row["activities"],
         "reported": yes_no[row["reported"]], "on_time": yes_no[row["on_time"]],
         "platforms": " ".join(row["platforms"]) or None,
         "languages": " ".join(row["languages"]) or None} for row in json_rows]


def test_missing_units_as_xlsx_are_the_json_list(client) -> None:
    response = get(client, "/missing", format="xlsx")
    sheet = sheet_of(response.content)
    assert sheet.title == "Đơn vị chưa báo cáo"
    assert str(sheet["A1"].value).startswith("Đơn vị chưa gửi báo cáo: ")
    assert records_of(response.content) == get(client, "/missing").json()["items"]
    ward = get(client, "/missing", format="xlsx", kind="ward")
    assert "loại đơn vị: Phường" in str(sheet_of(ward.content)["A1"].value)
    assert [r["code"] for r in records_of(ward.content)] == ["ph-1"]


def test_the_tables_for_excel_are_documented_as_csv_and_xlsx(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/progress", "/v1/progress/missing"):
        answers = paths[path]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv", MEDIA_TYPE} <= set(answers), path


def test_one_units_standing_reports(client) -> None:
    response = client.get("/v1/progress/units/xa-1", params={"campaign": "dai-hoi-xiv"},
                          headers={"authorization": "Bearer admin"})
    body = response.json()
    assert body["unit"] == {"code": "xa-1", "name": "Đơn vị xa-1", "kind": "commune"}
    [period] = body["periods"]
    assert (period["period"], period["version"], period["on_time"]) == ("2026-W04", 1, True)
    assert datetime.fromisoformat(period["received_at"]).tzinfo is not None
    assert body["coverage"]["platforms"]["zalo"] is True


def test_the_openapi_document_describes_every_field_of_every_feed(client) -> None:
    document = client.get("/openapi.json").json()
    responses = {path: item["get"]["responses"] for path, item in document["paths"].items()}
    feeds = {path: r["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
             for path, r in responses.items() if path != "/v1/progress/stream"}
    assert feeds == {"/v1/progress": "ProgressPublic",
                     "/v1/progress/overview": "OverviewPublic",
                     "/v1/progress/missing": "MissingPagePublic",
                     "/v1/progress/below-target": "BelowTargetPagePublic",
                     "/v1/progress/units": "UnitTablePagePublic",
                     "/v1/progress/units/{code}": "UnitProgressPublic",
                     "/v1/progress/units/{code}/days": "UnitDaysPagePublic",
                     "/v1/progress/parents": "ParentsPublic"}
    assert all({"401", "403", "404", "422"} <= set(r) for path, r in responses.items()
               if path != "/v1/progress/stream")
    schemas = document["components"]["schemas"]
    undescribed = [f"{name}.{field}" for name, schema in schemas.items()
                   if name.endswith("Public") or name.endswith("Coverage")
                   for field, spec in schema["properties"].items() if "description" not in spec]
    assert undescribed == []



# --- national scale: pages, cursors, cheap repeats ------------------------------------------


@pytest.fixture
def many(aggregates) -> Aggregates:
    """57 more communes, every third reporting one broadcast (below both targets)."""
    codes = [f"xa-{n:03d}" for n in range(100, 157)]
    aggregates.add(*(unit(code) for code in codes))
    aggregates.fold(*(report(code, activities=broadcasts({19: 1}))
                      for code in codes[::3]))
    return aggregates


def every_page(client: TestClient, path: str, limit: int, **params: str) -> list[list[str]]:
    """The codes on each page, following the cursors to the end."""
    pages, cursor = [], None
    while True:
        body = get(client, path, limit=str(limit), **params,
                   **({"cursor": cursor} if cursor else {})).json()
        pages.append([item["code"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_every_list_pages_through_each_unit_exactly_once(client, many) -> None:
    missing = every_page(client, "/missing", 7)
    reported = {"xa-1", *(f"xa-{n:03d}" for n in range(100, 157, 3))}
    everyone = {"xa-1", "xa-2", "ph-1", *(f"xa-{n:03d}" for n in range(100, 157))}
    flat = [code for page in missing for code in page]
    assert sorted(flat) == flat and set(flat) == everyone - reported
    assert len(flat) == len(set(flat)) == get(client, "/missing").json()["total"] == 40
    assert all(len(page) == 7 for page in missing[:-2])
    table = [code for page in every_page(client, "/units", 11) for code in page]
    assert len(table) == len(set(table)) == len(everyone) == \
        get(client, "/units").json()["total"]
    assert set(table) == everyone and table[-1] == "ph-1"  # by kind: communes, then wards
    below = [code for page in every_page(client, "/below-target", 5) for code in page]
    assert below == sorted(reported - {"xa-1"})
    body = get(client, "/below-target", limit="2", rule="weekly").json()
    assert body["total"] == 19 and body["items"][0]["weeks_below"] == [
        {"week": "2026-W04", "broadcasts": 1, "target": 3}]
    communes = get(client, "/units", kind="ward").json()
    assert [r["code"] for r in communes["items"]] == ["ph-1"] and communes["total"] == 1


def test_a_units_days_page_by_date_from_its_standing_reports(client, aggregates) -> None:
    """xa-1: seven peak days in 2026-W04, then a W05 report with three days, revised to two."""
    aggregates.fold(report("xa-1", period="2026-W05", activities=broadcasts({26: 2, 27: 1,
                                                                              28: 4})))
    aggregates.fold(report("xa-1", 2, period="2026-W05", activities=broadcasts({26: 3,
                                                                                 28: 1})))
    pages, cursor = [], None
    while True:
        body = client.get("/v1/progress/units/xa-1/days", params={
            "campaign": "dai-hoi-xiv", "limit": "4", **({"cursor": cursor} if cursor else {})},
            headers={"authorization": "Bearer lanh-dao"}).json()
        assert body["unit"]["code"] == "xa-1" and body["total"] == 9
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    days = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [d["day"] for d in days] == [f"2026-01-{n}" for n in (*range(19, 27), 28)]
    assert {d["period"] for d in days[:7]} == {"2026-W04"} and all(d["peak"] for d in days[:7])
    assert days[7:] == [{"day": "2026-01-26", "period": "2026-W05", "broadcasts": 3,
                         "peak": False},
                        {"day": "2026-01-28", "period": "2026-W05", "broadcasts": 1,
                         "peak": False}]
    nobody = get(client, "/units/xa-2/days")
    assert nobody.status_code == 200 and nobody.json()["items"] == [] \
        and nobody.json()["total"] == 0
    assert get(client, "/units/xa-9/days").status_code == 404
    bad = get(client, "/units/xa-1/days", cursor="tuesday")
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "cursor"


def test_a_cursor_the_list_did_not_give_is_refused_naming_the_field(client) -> None:
    bad = get(client, "/units", cursor="no-slash-here")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "cursor"
    assert get(client, "/missing", limit="0").status_code == 422


def test_an_unchanged_feed_answers_304_and_a_new_report_gives_a_new_etag(
        client, aggregates) -> None:
    first = get(client, "")
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["cache-control"] == "private, no-cache"
    again = client.get("/v1/progress", params=PERIOD, headers={
        "authorization": "Bearer lanh-dao", "if-none-match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    aggregates.fold(report("xa-2"))
    after = client.get("/v1/progress", params=PERIOD, headers={
        "authorization": "Bearer lanh-dao", "if-none-match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag
    assert after.json()["city"]["reported"] == 2
    aggregates.add(unit("xa-moi"))  # the registry changed: so may every figure
    newer = get(client, "")
    assert newer.headers["etag"] != after.headers["etag"]
    assert newer.json()["city"]["expected"] == 4


def test_a_province_s_feeds_and_the_roll_up_by_province(client) -> None:
    haiphong = get(client, "", parent="31").json()
    assert haiphong["parent"] == "31"
    assert haiphong["city"] == {"expected": 1, "reported": 1, "on_time": 1,
                                "completeness": 1.0, "timeliness": 1.0}
    assert haiphong["totals"]["by_activity_kind"] == {"loudspeaker_broadcast": 7,
                                                      "social_post": 3}
    hanoi = get(client, "", parent="01").json()
    assert (hanoi["city"]["expected"], hanoi["city"]["reported"], hanoi["totals"][
        "by_activity_kind"]) == (1, 0, {})
    assert [u["code"] for u in get(client, "/missing", parent="01").json()["items"]] == ["ph-1"]
    assert [u["code"] for u in get(client, "/units", parent="31").json()["items"]] == ["xa-1"]
    rolled = get(client, "/parents").json()["items"]
    assert [(i["parent"], i["name"], i["all"]["expected"], i["all"]["reported"])
            for i in rolled] == [("01", "Thành phố Hà Nội", 1, 0),
                                 ("31", "Thành phố Hải Phòng", 1, 1), (None, None, 1, 0)]


def test_a_parent_that_is_no_province_is_refused_naming_the_rule(client) -> None:
    for path in ("", "/missing", "/units", "/below-target"):
        refused = get(client, path, parent="99")
        assert refused.status_code == 422, (path, refused.text)
        assert [(f["field"], f["rule"]) for f in refused.json()["error"]["fields"]] == [
            ("query.parent", "province_unknown")]


def test_a_large_answer_goes_gzipped_to_a_client_that_accepts_it(client, many) -> None:
    def page(encoding: str) -> Any:
        return client.get("/v1/progress/units", params=PERIOD | {"limit": "50"}, headers={
            "authorization": "Bearer lanh-dao", "accept-encoding": encoding})

    plain, packed, again = page("identity"), page("gzip, deflate"), page("gzip")
    assert "content-encoding" not in plain.headers and len(plain.content) > 1024
    assert packed.headers["content-encoding"] == "gzip"  # httpx has decoded it
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert packed.json() == plain.json() == again.json() and len(plain.json()["items"]) == 50
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["etag"] == plain.headers["etag"]
    small = get(client, "/units/xa-1/days", campaign="dai-hoi-xiv")
    assert small.status_code == 200 and len(small.content) < 1024
    assert "content-encoding" not in small.headers  # under 1 KB: not worth it


@pytest.mark.parametrize("path", ["", "/missing", "/units", "/below-target", "/parents"])
@pytest.mark.parametrize("period", ["2025-W50", "2026-W49", "2030-W01"])
def test_a_period_outside_the_campaign_is_refused_as_intake_refuses_it(
        client, path: str, period: str) -> None:
    refused = get(client, path, period=period)  # the campaign: 5 Jan to 28 Feb 2026
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["error"]["fields"]
    assert (problem["field"], problem["rule"]) == ("period", "period_outside_campaign")


def test_the_overview_gives_every_period_with_its_figures(client) -> None:
    answer = client.get("/v1/progress/overview", params={"campaign": "dai-hoi-xiv"},
                        headers={"authorization": "Bearer lanh-dao"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["period"] for p in body["items"]] == [f"2026-W{n:02d}" for n in range(2, 10)]
    assert body["current"] is None  # the campaign ended on 28 Feb 2026
    assert {p["state"] for p in body["items"]} == {"due"}
    by_period = {p["period"]: p for p in body["items"]}
    assert by_period["2026-W04"]["city"] == get(client, "").json()["city"]
    assert by_period["2026-W04"]["by_unit_kind"]["commune"]["reported"] == 1
    assert by_period["2026-W04"]["loudspeaker"]["units_checked"] == 1
    assert by_period["2026-W05"]["city"]["reported"] == 0
    assert by_period["2026-W05"]["missing"] == 3
    kinds = client.get("/v1/progress/overview", headers={"authorization": "Bearer lanh-dao"},
                       params={"campaign": "dai-hoi-xiv", "kind": "ward"}).json()
    assert {k for p in kinds["items"] for k in p["by_unit_kind"]} == {"ward"}
    again = client.get("/v1/progress/overview", params={"campaign": "dai-hoi-xiv"},
                       headers={"authorization": "Bearer lanh-dao",
                                "if-none-match": answer.headers["etag"]})
    assert again.status_code == 304


def test_the_overview_is_for_the_leadership(client) -> None:
    refused = client.get("/v1/progress/overview", params={"campaign": "dai-hoi-xiv"},
                         headers={"authorization": "Bearer don-vi"})
    assert refused.status_code == 403


@pytest.mark.parametrize("path", ["", "/days"])
def test_a_unit_reads_its_own_standing_and_no_other_units(client, path: str) -> None:
    def read(code: str) -> Any:
        return client.get(f"/v1/progress/units/{code}{path}",
                          params={"campaign": "dai-hoi-xiv"},
                          headers={"authorization": "Bearer don-vi"})  # xa-1's credential
    own = read("xa-1")
    assert own.status_code == 200, own.text
    assert own.json()["unit"]["code"] == "xa-1"
    other = read("xa-2")
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
