"""The registry's routes in process, on a migrated SQLite database: names that hide
characters, query bounds, timestamps with their offset, deadline times without one, capped
import reports, campaigns' notification rules and their calendars' bounds, units' webhook
secrets."""

import csv
import io
import re
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.bus.outbox import OutboxMessage
from services.events import CAMPAIGNS, CREDENTIALS, UNITS, CampaignSnapshot, UnitSnapshot
from services.registry.api import router
from services.registry.migrations import MIGRATIONS
from services.registry.names import name_key
from services.web.spreadsheets import MEDIA_TYPE
from services.webhooks import unit_secret
from tests.unit.apps import bearer, client
from tests.unit.test_spreadsheets import records_of, sheet_of, table_of

ADMIN = bearer("admin")
LOOK_ALIKES = {"zero-width space": "Xã An\u200b Hưng", "NUL": "Xã An\x00 Hưng",
               "right-to-left override": "Xã An \u202eHưng", "byte-order mark": "\ufeffXã An Hưng",
               "word joiner": "Xã An\u2060 Hưng", "soft hyphen": "Xã An Hư\u00adng",
               "tab": "Xã An\tHưng", "Hangul filler": "Xã An \u3164Hưng"}


@pytest.fixture
def registry(migrated) -> TestClient:
    return client(router, migrated(MIGRATIONS))


def create(registry: TestClient, name: str, **fields: Any) -> Any:
    return registry.post("/v1/units", headers=ADMIN, json={"name": name, "kind": "commune"}
                         | fields)


def refused_fields(response: Any) -> set[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return {(f["field"], f["rule"]) for f in response.json()["error"]["fields"]}


class TestInvisibleCharacters:
    @pytest.mark.parametrize("name", LOOK_ALIKES.values(), ids=list(LOOK_ALIKES))
    def test_a_name_hiding_a_character_is_refused_on_create_naming_field_and_rule(
            self, registry, name) -> None:
        assert refused_fields(create(registry, name)) == {("body.name", "invisible_character")}
        assert registry.get("/v1/units", headers=ADMIN).json()["total"] == 0

    def test_a_name_hiding_a_character_is_refused_on_update(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        changed = registry.patch(f"/v1/units/{code}", headers=ADMIN,
                                 json={"name": "Xã An\u200b Hưng"})
        assert refused_fields(changed) == {("body.name", "invisible_character")}
        assert registry.get(f"/v1/units/{code}", headers=ADMIN).json()["name"] == "Xã An Hưng"

    def test_a_campaign_name_hiding_a_character_is_refused(self, registry) -> None:
        campaign = {"code": "bau-cu", "name": "Bầu cử\u202e", "starts_on": "2031-03-01",
                    "ends_on": "2031-05-31", "targets": {"commune": {}}}
        refused = registry.post("/v1/campaigns", headers=ADMIN, json=campaign)
        assert refused_fields(refused) == {("body.name", "invisible_character")}

    def test_an_import_row_hiding_a_character_is_refused_on_its_line(self, registry) -> None:
        csv = "kind,name\ncommune,Xã Tân Tiến\ncommune,Xã An\u200b Hưng\n"
        report = registry.post("/v1/units/import", headers=ADMIN, content=csv.encode())
        assert report.status_code == 422, report.text
        [problem] = report.json()["problems"]
        assert (problem["line"], problem["field"]) == (3, "name")
        assert "U+200B" in problem["reason"]

    def test_names_that_display_the_same_are_one_name(self) -> None:
        for name in LOOK_ALIKES.values():
            assert name_key(name) == name_key("Xã An Hưng"), repr(name)
        assert name_key("Xã An\u200bHưng") != name_key("Xã An Hưng")  # "AnHưng" on screen

    def test_an_import_repeating_a_name_with_a_hidden_character_is_one_name(
            self, registry) -> None:
        csv = "kind,name\ncommune,Xã An Hưng\ncommune,Xã An\u2060 Hưng\n"
        report = registry.post("/v1/units/import?good_rows=true", headers=ADMIN,
                               content=csv.encode()).json()
        assert report["created"] == 1
        assert [(p["line"], p["field"], p["reason"]) for p in report["problems"]] == [
            (3, "name", "same name as line 2")]

    def test_ordinary_vietnamese_names_are_taken(self, registry) -> None:
        for name in ("Phường Hồng Bàng", "Đặc khu Bạch Long Vĩ", "Xã Hoà Bình"):
            assert create(registry, name).status_code == 201, name


class TestQueryBounds:
    @pytest.mark.parametrize("offset", ["9223372036854775808", "1000001"])
    def test_an_offset_beyond_any_list_is_refused(self, registry, offset) -> None:
        response = registry.get("/v1/units", headers=ADMIN, params={"offset": offset})
        assert refused_fields(response) == {("query.offset", "less_than_equal")}

    def test_the_largest_offset_is_an_empty_page(self, registry) -> None:
        create(registry, "Xã An Hưng")
        page = registry.get("/v1/units", headers=ADMIN, params={"offset": 1_000_000}).json()
        assert page == {"items": [], "total": 1}


def aware(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() is not None


class TestTimestamps:
    def test_every_timestamp_read_back_carries_its_offset(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        unit = registry.get(f"/v1/units/{code}", headers=ADMIN).json()  # read from SQLite
        listed = registry.get("/v1/units", headers=ADMIN).json()["items"][0]
        assert all(aware(u[k]) for u in (unit, listed) for k in ("created_at", "updated_at"))
        registry.post("/v1/campaigns", headers=ADMIN, json={
            "code": "bau-cu", "name": "Bầu cử", "starts_on": "2031-03-01",
            "ends_on": "2031-05-31", "targets": {"commune": {}}}).raise_for_status()
        campaign = registry.get("/v1/campaigns/bau-cu", headers=ADMIN).json()
        assert aware(campaign["created_at"]) and aware(campaign["updated_at"])
        issued = registry.post("/v1/credentials", headers=ADMIN, json={
            "scope": "leadership", "label": "Lãnh đạo"}).json()
        revoked = registry.post(f"/v1/credentials/{issued['id']}/revoke", headers=ADMIN).json()
        [listed_credential] = registry.get("/v1/credentials", headers=ADMIN).json()["items"]
        assert all(aware(c[k]) for c in (revoked, listed_credential)
                   for k in ("issued_at", "revoked_at"))



class TestDeadlineTime:
    """A deadline's time is a wall-clock time in the campaign's zone (found by fuzzing: the
    document said RFC 3339 `time`, which has an offset, and an offset sent was dropped)."""

    @pytest.mark.parametrize("at", ["10:00Z", "17:00+07:00", "17:00:00-05:00"])
    def test_a_deadline_time_with_an_offset_is_refused(self, registry, at) -> None:
        refused = registry.post("/v1/campaigns", headers=ADMIN, json=campaign(at))
        assert refused_fields(refused) == {("body.deadline.at", "local_time")}

    def test_a_deadline_time_reads_back_in_the_form_the_document_gives(self, registry) -> None:
        registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:30")).raise_for_status()
        at = registry.get("/v1/campaigns/bau-cu", headers=ADMIN).json()["deadline"]["at"]
        documented = registry.app.openapi()["components"]["schemas"]["Deadline"]
        assert at == "17:30:00" and "format" not in documented["properties"]["at"]
        assert re.fullmatch(documented["properties"]["at"]["pattern"], at)


class TestCampaignCalendarBounds:
    """A campaign's calendar stays where a person would put it (found by fuzzing: a campaign
    from year 1 to 9999 kept the aggregator walking half a million periods every check)."""

    @pytest.mark.parametrize(("starts_on", "ends_on", "rule"), [
        ("0001-01-01", "9999-12-31", "between 2000-01-01 and 2099-12-31"),
        ("2099-06-01", "2100-01-01", "between 2000-01-01 and 2099-12-31"),
        ("2026-01-05", "2031-01-06", "at most 5 years"),
    ])
    def test_a_calendar_out_of_bounds_is_refused_naming_the_rule(
            self, registry, starts_on, ends_on, rule) -> None:
        refused = registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:00") | {
            "starts_on": starts_on, "ends_on": ends_on})
        assert refused.status_code == 422
        assert rule in refused.json()["error"]["fields"][0]["message"]

    def test_five_years_to_the_day_is_accepted(self, registry) -> None:
        registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:00") | {
            "starts_on": "2028-02-29", "ends_on": "2033-02-28"}).raise_for_status()


class TestCampaignNotifications:
    """Reminder steps, quiet hours, the digest hour and the Department's addresses are the
    campaign's own data, published with it for the notifier."""

    RULES = {"reminders": [{"name": "before-24h", "hours_from_deadline": -24},
                           {"name": "after-48h", "hours_from_deadline": 48,
                            "copy_department": True}],
             "quiet_hours": {"starts": "22:00", "ends": "06:30"}, "digest_at": "07:45",
             "department_emails": ["vanphong@sovhttdl.haiphong.gov.vn"]}

    def test_the_rules_given_are_stored_and_published_with_the_campaign(self, migrated) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine)
        registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:00") | {
            "notifications": self.RULES}).raise_for_status()
        read = registry.get("/v1/campaigns/bau-cu", headers=ADMIN).json()["notifications"]
        assert [s["name"] for s in read["reminders"]] == ["before-24h", "after-48h"]
        assert read["quiet_hours"] == {"starts": "22:00:00", "ends": "06:30:00",
                                       "timezone": "Asia/Ho_Chi_Minh"}
        with Session(engine) as session:
            [message] = session.exec(select(OutboxMessage).where(
                OutboxMessage.topic == CAMPAIGNS.name)).all()
        assert message.value is not None
        published = CampaignSnapshot.model_validate_json(message.value).notifications
        assert published.digest_at == time(7, 45)
        assert published.department_emails == ["vanphong@sovhttdl.haiphong.gov.vn"]
        assert published.reminders[1].copy_department is True

    def test_a_campaign_giving_none_has_the_defaults(self, registry) -> None:
        registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:00")).raise_for_status()
        read = registry.get("/v1/campaigns/bau-cu", headers=ADMIN).json()["notifications"]
        assert [(s["name"], s["hours_from_deadline"]) for s in read["reminders"]] == [
            ("before-48h", -48), ("before-2h", -2), ("after-24h", 24)]
        assert (read["digest_at"], read["department_emails"]) == ("08:00:00", [])
        assert read["quiet_hours"]["starts"] == "21:00:00"

    @pytest.mark.parametrize(("rules", "field", "rule"), [
        ({"reminders": [{"name": "nhac", "hours_from_deadline": -2},
                        {"name": "nhac", "hours_from_deadline": -1}]},
         "body.notifications", "value_error"),
        ({"department_emails": ["van phong"]}, "body.notifications.department_emails.0",
         "value_error"),
        ({"digest_at": "08:00+07:00"}, "body.notifications.digest_at", "local_time"),
        ({"reminders": [{"name": "Nhắc", "hours_from_deadline": -2}]},
         "body.notifications.reminders.0.name", "string_pattern_mismatch"),
    ])
    def test_bad_rules_are_refused_naming_the_field(self, registry, rules, field,
                                                    rule) -> None:
        refused = registry.post("/v1/campaigns", headers=ADMIN, json=campaign("17:00") | {
            "notifications": rules})
        assert refused_fields(refused) == {(field, rule)}


class TestWebhookSecret:
    """A unit's webhook secret is shown to its administrator and the unit itself, and
    rotated by either; the new generation is published with the unit for the notifier."""

    KEY = b"k" * 40

    def test_the_unit_sees_its_own_secret_and_no_other_unit_does(self, migrated) -> None:
        registry = client(router, migrated(MIGRATIONS), webhook_signing_key=self.KEY)
        code = create(registry, "Xã An Hưng").json()["code"]
        own = registry.get(f"/v1/units/{code}/webhook-secret", headers=bearer(f"unit:{code}"))
        assert own.status_code == 200 and own.headers["cache-control"] == "no-store"
        assert own.json()["secret"] == unit_secret(self.KEY, code, 1)
        assert own.json()["generation"] == 1
        other = registry.get(f"/v1/units/{code}/webhook-secret", headers=bearer("unit:xa-khac"))
        leader = registry.get(f"/v1/units/{code}/webhook-secret", headers=bearer("lanh-dao"))
        assert (other.status_code, leader.status_code) == (403, 403)

    def test_a_rotation_gives_a_new_secret_and_publishes_its_generation(self, migrated) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine, webhook_signing_key=self.KEY)
        code = create(registry, "Xã An Hưng").json()["code"]
        before = registry.get(f"/v1/units/{code}/webhook-secret", headers=ADMIN).json()
        rotated = registry.post(f"/v1/units/{code}/webhook-secret/rotate",
                                headers=bearer(f"unit:{code}")).json()
        assert rotated["generation"] == 2 and rotated["secret"] != before["secret"]
        assert registry.get(f"/v1/units/{code}/webhook-secret",
                            headers=ADMIN).json() == rotated
        with Session(engine) as session:
            values = [m.value for m in session.exec(select(OutboxMessage).where(
                OutboxMessage.topic == UNITS.name, OutboxMessage.key == code))]
        generations = [UnitSnapshot.model_validate_json(v).webhook_secret_generation
                       for v in values if v is not None]
        assert generations == [1, 2]

    def test_without_a_signing_key_there_is_no_secret_to_show(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        for response in (registry.get(f"/v1/units/{code}/webhook-secret", headers=ADMIN),
                         registry.post(f"/v1/units/{code}/webhook-secret/rotate",
                                       headers=ADMIN)):
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "webhooks_not_configured"
        assert registry.get(f"/v1/units/{code}", headers=ADMIN).json()["revision"] == 1


def campaign(at: str) -> dict[str, Any]:
    return {"code": "bau-cu", "name": "Bầu cử", "starts_on": "2031-03-01",
            "ends_on": "2031-05-31", "targets": {"commune": {}}, "deadline": {"at": at}}

class TestImportReportSize:
    def test_a_header_of_a_hundred_thousand_columns_gets_a_capped_report(
            self, registry) -> None:
        header = ",".join(["a"] * 100_000)
        response = registry.post("/v1/units/import", headers=ADMIN,
                                 content=f"{header}\ncommune,Xã A\n".encode())
        assert response.status_code == 422
        assert len(response.content) < 20_000
        problems = response.json()["problems"]
        assert len(problems) == 101 and problems[:2] == [
            {"line": 1, "field": "kind", "reason": "required column missing"},
            {"line": 1, "field": "name", "reason": "required column missing"}]
        assert problems[-1]["field"] == "" and problems[-1]["line"] == 1
        assert problems[-1]["reason"] == "99902 more problems not listed, from this line on"

    def test_many_bad_rows_are_counted_beyond_the_listed_ones(self, registry) -> None:
        rows = "".join(f"village,Thôn {n}\n" for n in range(300))
        report = registry.post("/v1/units/import", headers=ADMIN,
                               content=f"kind,name\n{rows}".encode()).json()
        assert report["rejected"] == 300 and len(report["problems"]) == 101
        assert [p["line"] for p in report["problems"][:100]] == list(range(2, 102))
        assert report["problems"][100]["line"] == 102
        assert report["problems"][100]["reason"].startswith("200 more problems")


class TestParents:
    """A unit's parent is a province of Decision 19/2025/QĐ-TTg, given on create, update
    and import, and published with the unit."""

    def published(self, engine: Any, code: str) -> list[UnitSnapshot]:
        with Session(engine) as session:
            return [UnitSnapshot.model_validate_json(m.value or b"") for m in session.exec(
                select(OutboxMessage).where(OutboxMessage.topic == UNITS.name,
                                            OutboxMessage.key == code)).all()]

    def test_a_parent_is_kept_changed_and_published(self, migrated) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine)
        code = create(registry, "Xã An Hưng", parent="31").json()["code"]
        assert registry.get(f"/v1/units/{code}", headers=ADMIN).json()["parent"] == "31"
        registry.patch(f"/v1/units/{code}", headers=ADMIN, json={"parent": "01"}
                       ).raise_for_status()
        assert [(u.parent, u.revision) for u in self.published(engine, code)] == [
            ("31", 1), ("01", 2)]

    @pytest.mark.parametrize("parent", ["32", "1", "031", "HP", ""])
    def test_a_code_that_is_no_province_is_refused_naming_field_and_rule(
            self, registry, parent) -> None:
        assert refused_fields(create(registry, "Xã An Hưng", parent=parent)) == {
            ("body.parent", "province_unknown")}

    def test_an_import_gives_parents_and_refuses_a_bad_one_on_its_line(self, migrated) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine)
        good = "kind,name,parent\ncommune,Xã Tân Tiến,31\nward,Phường Ba Đình,01\n"
        registry.post("/v1/units/import", headers=ADMIN, content=good.encode()
                      ).raise_for_status()
        units = registry.get("/v1/units", headers=ADMIN).json()["items"]
        assert sorted((u["name"], u["parent"]) for u in units) == [
            ("Phường Ba Đình", "01"), ("Xã Tân Tiến", "31")]
        assert [u.parent for u in self.published(engine, "xa-tan-tien")] == ["31"]
        bad = "kind,name,parent\ncommune,Xã Tiên Lãng,99\n"
        report = registry.post("/v1/units/import", headers=ADMIN, content=bad.encode())
        assert report.status_code == 422, report.text
        [problem] = report.json()["problems"]
        assert (problem["line"], problem["field"]) == (2, "parent")


class TestCampaignPeriods:
    """A campaign's periods with their deadlines, for the portal and any client: nothing
    else lists them."""

    CAMPAIGN = {"code": "bau-cu", "name": "Bầu cử", "starts_on": "2026-11-30",
                "ends_on": "2026-12-20", "targets": {"commune": {}}}

    def test_every_week_with_its_deadline_and_the_current_one(self, registry) -> None:
        assert registry.post("/v1/campaigns", headers=ADMIN,
                             json=self.CAMPAIGN).status_code == 201
        answer = registry.get("/v1/campaigns/bau-cu/periods", headers=bearer("unit:xa-a"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [p["period"] for p in body["items"]] == ["2026-W49", "2026-W50", "2026-W51"]
        first = body["items"][0]
        assert (first["starts_on"], first["ends_on"]) == ("2026-11-30", "2026-12-06")
        assert datetime.fromisoformat(first["deadline"]) == datetime.fromisoformat(
            "2026-12-07T10:00:00+00:00")  # the Monday after, 17:00 in Hai Phong
        today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
        current = [p["period"] for p in body["items"] if p["starts_on"] <= today <= p["ends_on"]]
        assert [p["period"] for p in body["items"] if p["current"]] == current
        assert body["current"] == (current[0] if current else None)
        now = datetime.now(UTC)
        assert [p["due"] for p in body["items"]] == [
            datetime.fromisoformat(p["deadline"]) < now for p in body["items"]]

    def test_an_unknown_campaign_is_404(self, registry) -> None:
        answer = registry.get("/v1/campaigns/khong-co/periods", headers=ADMIN)
        assert answer.status_code == 404


class TestCredentialBatch:
    """Unit tokens for many units at once: one transaction, shown once, as a file."""

    def test_each_unit_gets_a_token_in_a_file_shown_once(self, migrated) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine)
        codes = [create(registry, f"Xã Số {n}").json()["code"] for n in range(3)]
        answer = registry.post("/v1/credentials/batch", json={"unit_codes": codes,
                                                              "label": "Đợt 1"},
                               headers=ADMIN | {"accept": "text/csv"})
        assert answer.status_code == 201, answer.text
        assert answer.headers["cache-control"] == "no-store"
        headers, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert headers[:2] == ["Mã đơn vị", "Tên đơn vị"]
        assert rows[0] == ["code", "name", "credential_id", "token"]
        rows = rows[1:]
        assert [r[:2] for r in rows] == [[c, f"Xã Số {n}"] for n, c in enumerate(codes)]
        assert all(r[3].startswith("hpk_") for r in rows)
        listed = registry.get("/v1/credentials", headers=ADMIN).json()
        assert sorted(c["unit_code"] for c in listed["items"]) == sorted(codes)
        assert "token" not in listed["items"][0]
        with Session(engine) as session:
            published = session.exec(select(OutboxMessage).where(
                OutboxMessage.topic == CREDENTIALS.name)).all()
        assert sorted(m.key for m in published) == sorted(r[2] for r in rows)

    def test_the_file_for_scripts_has_the_codes_alone(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        answer = registry.post("/v1/credentials/batch", params={"header": "code"},
                               json={"unit_codes": [code], "label": "Đợt 1"},
                               headers=ADMIN | {"accept": "text/csv"})
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert [(r["code"], r["name"]) for r in rows] == [(code, "Xã An Hưng")]

    def test_the_tokens_as_xlsx_keep_a_formula_like_name_as_text(self, registry) -> None:
        codes = [create(registry, name).json()["code"]
                 for name in ("=1+2", '=HYPERLINK("http://x","y")', "Xã An Hưng")]
        answer = registry.post("/v1/credentials/batch", json={"unit_codes": codes,
                                                              "label": "Đợt 1"},
                               headers=ADMIN | {"accept": MEDIA_TYPE})
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"] == MEDIA_TYPE
        assert answer.headers["cache-control"] == "no-store"
        assert 'filename="credentials.xlsx"' in answer.headers["content-disposition"]
        sheet = sheet_of(answer.content)
        assert sheet.title == "Mã truy cập" and "Đợt 1" in str(sheet["A1"].value)
        names = [row[1] for row in table_of(answer.content)[1]]
        assert [(c.value, c.data_type) for c in names] == [
            ("=1+2", "s"), ('=HYPERLINK("http://x","y")', "s"), ("Xã An Hưng", "s")]
        tokens = records_of(answer.content)
        listed = registry.get("/v1/credentials", headers=ADMIN).json()["items"]
        assert sorted(t["credential_id"] for t in tokens) == sorted(c["id"] for c in listed)
        assert all(str(t["token"]).startswith("hpk_") for t in tokens)
        documented = registry.get("/openapi.json").json()["paths"]["/v1/credentials/batch"]
        assert {"text/csv", MEDIA_TYPE} <= set(
            documented["post"]["responses"]["201"]["content"])

    def test_one_unknown_code_issues_nothing_and_names_its_place(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        answer = registry.post("/v1/credentials/batch", headers=ADMIN,
                               json={"unit_codes": [code, "khong-co"], "label": "Đợt 1"})
        assert refused_fields(answer) == {("unit_codes.1", "unit_not_found")}
        assert registry.get("/v1/credentials", headers=ADMIN).json()["total"] == 0

    def test_a_unit_named_twice_is_refused(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        answer = registry.post("/v1/credentials/batch", headers=ADMIN,
                               json={"unit_codes": [code, code], "label": "Đợt 1"})
        assert refused_fields(answer) == {("body.unit_codes", "duplicate_unit")}

    def test_replace_revokes_the_earlier_unit_tokens_in_the_same_call(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        first = registry.post("/v1/credentials/batch", headers=ADMIN,
                              json={"unit_codes": [code], "label": "Đợt 1"}).json()
        second = registry.post("/v1/credentials/batch", headers=ADMIN,
                               json={"unit_codes": [code], "label": "Đợt 2",
                                     "replace": True}).json()
        assert (first["revoked"], second["revoked"], second["total"]) == (0, 1, 1)
        states = {c["label"]: c["revoked_at"] is not None for c in
                  registry.get("/v1/credentials", headers=ADMIN).json()["items"]}
        assert states == {"Đợt 1": True, "Đợt 2": False}

    def test_only_an_administrator_issues(self, registry) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        for token in ("lanh-dao", f"unit:{code}"):
            answer = registry.post("/v1/credentials/batch", headers=bearer(token),
                                   json={"unit_codes": [code], "label": "Đợt 1"})
            assert answer.status_code == 403

    @pytest.mark.parametrize(("accept", "where"), [("text/csv", "services.web.downloads.csv_cell"),
                                                   (MEDIA_TYPE, "services.web.spreadsheets.shown")])
    def test_a_file_that_cannot_be_made_issues_and_revokes_nothing(
            self, migrated, monkeypatch, accept, where) -> None:
        engine = migrated(MIGRATIONS)
        registry = client(router, engine)
        code = create(registry, "Xã An Hưng").json()["code"]
        first = registry.post("/v1/credentials/batch", headers=ADMIN,
                              json={"unit_codes": [code], "label": "Đợt 1"}).json()
        trail = registry.get("/v1/audit", headers=ADMIN).json()["total"]

        def broken(*_: Any) -> Any:
            raise OSError("no space left on device")

        monkeypatch.setattr(where, broken)
        try:
            failed = registry.post("/v1/credentials/batch", headers=ADMIN | {"accept": accept},
                                   json={"unit_codes": [code], "label": "Đợt 2",
                                         "replace": True})
            assert failed.status_code == 500
        except OSError:  # the file was streamed after the commit: the tokens were issued
            pass
        monkeypatch.undo()
        listed = registry.get("/v1/credentials", headers=ADMIN).json()["items"]
        assert [(c["id"], c["revoked_at"]) for c in listed] == [(first["items"][0]["id"], None)]
        assert registry.get("/v1/audit", headers=ADMIN).json()["total"] == trail
        with Session(engine) as session:
            published = session.exec(select(OutboxMessage).where(
                OutboxMessage.topic == CREDENTIALS.name)).all()
        assert [m.key for m in published] == [first["items"][0]["id"]]


class TestNoText:
    """Non-characters and lone surrogates are no text: no file (UTF-8, XML) carries them."""

    @pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\ufdd0", "\U0010ffff"])
    def test_a_unit_name_holding_a_non_character_is_refused(self, registry, char) -> None:
        assert refused_fields(create(registry, f"Xã An{char} Hưng")) == {
            ("body.name", "invisible_character")}

    @pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\x00", "\u200b"])
    def test_a_credential_label_hiding_a_character_is_refused(self, registry, char) -> None:
        code = create(registry, "Xã An Hưng").json()["code"]
        one = registry.post("/v1/credentials", headers=ADMIN, json={
            "scope": "unit", "unit_code": code, "label": f"Văn thư{char}"})
        batch = registry.post("/v1/credentials/batch", headers=ADMIN, json={
            "unit_codes": [code], "label": f"Đợt{char} 1"})
        assert refused_fields(one) == refused_fields(batch) == {
            ("body.label", "invisible_character")}
        assert registry.get("/v1/credentials", headers=ADMIN).json()["total"] == 0
