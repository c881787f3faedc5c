"""The audit trail in process, on a migrated SQLite database: what each change records (and
what it never records), that a refused change records nothing, the filters and who may read
it; and the reports entered on a unit's behalf, read by the real runner from memory."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.bus.consumer import MemorySource
from services.events import REPORTS, UNITS, ReportSubmitted
from services.registry import audit, handlers
from services.registry.api import router
from services.registry.handlers import OnBehalfReports
from services.registry.migrations import MIGRATIONS
from tests.handlers import outbox, run
from tests.unit.apps import bearer, client

ADMIN = bearer("admin")


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)


@pytest.fixture
def registry(engine) -> TestClient:
    return client(router, engine)


def trail(registry: TestClient, **params: Any) -> list[dict[str, Any]]:
    answer = registry.get("/v1/audit", headers=ADMIN, params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def new_unit(registry: TestClient, **fields: Any) -> str:
    created = registry.post("/v1/units", headers=ADMIN, json={
        "code": "xa-an-hung", "name": "Xã An Hưng", "kind": "commune",
        "active_from": "2025-07-01", "contacts": {"email": "vanthu@anhung.gov.vn"}} | fields)
    assert created.status_code == 201, created.text
    return str(created.json()["code"])


class TestWhatIsRecorded:
    def test_a_unit_update_records_before_and_after_of_exactly_the_changed_fields(
            self, registry) -> None:
        code = new_unit(registry)
        changed = registry.patch(f"/v1/units/{code}", headers=ADMIN, json={
            "name": "Xã An Hưng Mới", "contacts": {"email": "vanthu@anhung.gov.vn",
                                                 "phone": "0225 3842 000"}})
        assert changed.status_code == 200, changed.text
        updated, created = trail(registry, entity="unit", entity_id=code)
        assert (updated["action"], created["action"]) == ("updated", "created")
        assert updated["changes"] == {
            "name": {"before": "Xã An Hưng", "after": "Xã An Hưng Mới"},
            "phone": {"before": None, "after": "0225 3842 000"}}
        assert updated["actor"] == {"id": "admin", "scope": "admin", "label": None}
        assert updated["request_id"] == changed.headers["x-request-id"]
        assert created["changes"] | {} == {
            "name": "Xã An Hưng", "kind": "commune", "active_from": "2025-07-01",
            "email": "vanthu@anhung.gov.vn"}

    def test_an_update_that_changes_nothing_records_nothing(self, registry) -> None:
        code = new_unit(registry)
        registry.patch(f"/v1/units/{code}", headers=ADMIN,
                       json={"name": "Xã An Hưng"}).raise_for_status()
        assert [e["action"] for e in trail(registry)] == ["created"]

    def test_issuing_a_credential_records_no_token(self, registry) -> None:
        code = new_unit(registry)
        issued = registry.post("/v1/credentials", headers=ADMIN, json={
            "scope": "unit", "unit_code": code, "label": "Văn thư xã"}).json()
        batch = registry.post("/v1/credentials/batch", headers=ADMIN, json={
            "unit_codes": [code], "label": "Đợt 2", "replace": True}).json()
        listed = registry.get("/v1/audit", headers=ADMIN, params={"entity": "credential"})
        for token in (issued["token"], batch["items"][0]["token"]):
            assert token not in listed.text and token[:10] not in listed.text
        actions = [(e["entity_id"], e["action"]) for e in listed.json()["items"]]
        assert sorted(actions) == sorted([(issued["id"], "issued"), (issued["id"], "revoked"),
                                          (batch["items"][0]["id"], "issued")])
        first = next(e for e in listed.json()["items"] if e["entity_id"] == issued["id"]
                     and e["action"] == "issued")
        assert first["changes"] == {"scope": "unit", "unit_code": code, "label": "Văn thư xã"}

    def test_retiring_rotating_and_deleting_are_each_recorded(self, registry) -> None:
        code = new_unit(registry)
        issued = registry.post("/v1/credentials", headers=ADMIN, json={
            "scope": "unit", "unit_code": code, "label": "Văn thư"}).json()
        registry.post(f"/v1/units/{code}/retire", headers=ADMIN,
                      json={"active_until": "2026-03-31"}).raise_for_status()
        registry.delete(f"/v1/units/{code}", headers=ADMIN).raise_for_status()
        entries = trail(registry)
        assert [(e["entity"], e["action"]) for e in entries] == [
            ("unit", "deleted"), ("credential", "revoked"), ("unit", "retired"),
            ("credential", "issued"), ("unit", "created")]
        assert entries[2]["changes"] == {"active_until": {"before": None,
                                                          "after": "2026-03-31"}}
        assert entries[1]["entity_id"] == issued["id"]
        assert entries[0]["changes"]["name"] == "Xã An Hưng"  # what was removed

    def test_a_unit_rotating_its_own_secret_is_named_by_its_credential(
            self, engine) -> None:
        registry = client(router, engine, webhook_signing_key=b"k" * 32)
        code = new_unit(registry)
        rotated = registry.post(f"/v1/units/{code}/webhook-secret/rotate",
                                headers=bearer(f"unit:{code}"))
        assert rotated.status_code == 200, rotated.text
        [entry, _] = trail(registry, entity_id=code)
        assert entry["action"] == "secret_rotated"
        assert entry["actor"]["scope"] == "unit"
        assert entry["changes"] == {"webhook_secret_generation": {"before": 1, "after": 2}}
        assert rotated.json()["secret"] not in json.dumps(entry)

    def test_a_campaign_replaced_records_the_parts_that_changed(self, registry) -> None:
        body = {"name": "Bầu cử", "starts_on": "2031-03-01", "ends_on": "2031-05-31",
                "targets": {"commune": {}}}
        registry.post("/v1/campaigns", headers=ADMIN,
                      json=body | {"code": "bau-cu"}).raise_for_status()
        registry.put("/v1/campaigns/bau-cu", headers=ADMIN,
                     json=body | {"ends_on": "2031-06-30"}).raise_for_status()
        replaced, created = trail(registry, entity="campaign")
        assert replaced["changes"] == {"ends_on": {"before": "2031-05-31",
                                                   "after": "2031-06-30"}}
        assert created["changes"]["name"] == "Bầu cử"

    def test_a_campaign_replaced_by_the_same_body_records_and_publishes_nothing(
            self, engine, registry) -> None:
        body = {"name": "Bầu cử", "starts_on": "2031-03-01", "ends_on": "2031-05-31",
                "peak_windows": [{"starts_on": "2031-05-20", "ends_on": "2031-05-23"}],
                "targets": {"commune": {}}}
        created = registry.post("/v1/campaigns", headers=ADMIN, json=body | {"code": "bau-cu"})
        published = len(outbox(engine))
        again = registry.put("/v1/campaigns/bau-cu", headers=ADMIN, json=body)
        assert again.status_code == 200, again.text
        assert again.json()["revision"] == created.json()["revision"]
        assert again.json()["ends_on"] == "2031-05-31"
        assert [e["action"] for e in trail(registry, entity="campaign")] == ["created"]
        assert len(outbox(engine)) == published

    def test_deleting_a_unit_leaves_its_already_revoked_credentials_as_they_were(
            self, engine, registry) -> None:
        code = new_unit(registry)
        issued = registry.post("/v1/credentials", headers=ADMIN, json={
            "scope": "unit", "unit_code": code, "label": "Văn thư"}).json()
        revoked = registry.post(f"/v1/credentials/{issued['id']}/revoke",
                                headers=ADMIN).json()["revoked_at"]
        published = len(outbox(engine))
        registry.delete(f"/v1/units/{code}", headers=ADMIN).raise_for_status()
        [credential] = registry.get("/v1/credentials", headers=ADMIN).json()["items"]
        assert credential["revoked_at"] == revoked
        assert [e["action"] for e in trail(registry, entity="credential")] == [
            "revoked", "issued"]
        assert [topic for topic, _, _ in outbox(engine)[published:]] == [UNITS.name]

    def test_an_import_records_each_unit_it_created_or_changed(self, registry) -> None:
        code = new_unit(registry)
        csv_body = f"code,kind,name\n{code},commune,Xã An Hưng Hai\n,ward,Phường Lê Lợi\n"
        imported = registry.post("/v1/units/import", headers=ADMIN, content=csv_body.encode())
        assert imported.status_code == 200, imported.text
        entries = {e["entity_id"]: e for e in trail(registry, entity="unit")
                   if e["action"] != "created"}
        assert entries[code]["action"] == "updated"
        assert entries[code]["changes"] == {"name": {"before": "Xã An Hưng",
                                                     "after": "Xã An Hưng Hai"}}
        assert entries["phuong-le-loi"]["action"] == "imported"
        assert entries["phuong-le-loi"]["changes"]["name"] == "Phường Lê Lợi"
        assert entries[code]["note"].startswith("import imp_")


class TestRefusedChanges:
    def test_a_refused_change_records_nothing(self, registry) -> None:
        code = new_unit(registry)
        bad_span = registry.patch(f"/v1/units/{code}", headers=ADMIN,
                                  json={"active_until": "2020-01-01"})
        assert bad_span.status_code == 422
        bad_body = registry.patch(f"/v1/units/{code}", headers=ADMIN, json={"kind": "planet"})
        assert bad_body.status_code == 422
        taken = registry.post("/v1/units", headers=ADMIN, json={
            "code": code, "name": "Xã Khác", "kind": "commune"})
        assert taken.status_code == 409
        unknown = registry.post("/v1/credentials/batch", headers=ADMIN, json={
            "unit_codes": [code, "khong-co"], "label": "Đợt 1"})
        assert unknown.status_code == 422
        assert [e["action"] for e in trail(registry)] == ["created"]
        assert registry.get(f"/v1/units/{code}", headers=ADMIN).json()["active_until"] is None


class TestReading:
    def test_filters_by_entity_and_time(self, registry) -> None:
        new_unit(registry)
        registry.post("/v1/campaigns", headers=ADMIN, json={
            "code": "bau-cu", "name": "Bầu cử", "starts_on": "2031-03-01",
            "ends_on": "2031-05-31", "targets": {"commune": {}}}).raise_for_status()
        [campaign] = trail(registry, entity="campaign")
        assert campaign["entity_id"] == "bau-cu"
        at = datetime.fromisoformat(campaign["at"])
        later, earlier = (at + timedelta(seconds=1)).isoformat(), \
            (at - timedelta(hours=1)).isoformat()
        assert trail(registry, **{"from": later}) == []
        assert len(trail(registry, **{"from": earlier})) == 2
        assert trail(registry, to=earlier) == []
        in_hanoi = at.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=7)
        since = in_hanoi.isoformat() + "+07:00"  # the same instant, written with its offset
        assert [e["entity"] for e in trail(registry, **{"from": since})] == ["campaign"]
        assert [e["entity"] for e in trail(registry, actor="admin")] == ["campaign", "unit"]

    def test_bad_times_are_refused_naming_the_field(self, registry) -> None:
        naive = registry.get("/v1/audit", headers=ADMIN, params={"from": "2026-02-09T10:00"})
        assert naive.status_code == 422
        assert [f["field"] for f in naive.json()["error"]["fields"]] == ["query.from"]
        garbled = registry.get("/v1/audit", headers=ADMIN, params={"to": "hôm qua"})
        assert [f["field"] for f in garbled.json()["error"]["fields"]] == ["query.to"]
        backwards = registry.get("/v1/audit", headers=ADMIN, params={
            "from": "2026-02-09T00:00:00Z", "to": "2026-02-08T00:00:00Z"})
        assert backwards.status_code == 422
        assert [(f["field"], f["rule"]) for f in backwards.json()["error"]["fields"]] == [
            ("query.to", "after_from")]
        beyond = registry.get("/v1/audit", headers=ADMIN,
                              params={"from": "9999-12-31T23:59:59-23:59"})
        assert [(f["field"], f["rule"]) for f in beyond.json()["error"]["fields"]] == [
            ("query.from", "datetime_out_of_range")]
        unknown = registry.get("/v1/audit", headers=ADMIN, params={"entity": "planet"})
        assert [f["field"] for f in unknown.json()["error"]["fields"]] == ["query.entity"]

    def test_pages_newest_first(self, registry) -> None:
        for number in range(3):
            new_unit(registry, code=f"xa-{number}", name=f"Xã Số {number}")
        page = registry.get("/v1/audit", headers=ADMIN, params={"limit": 2, "offset": 1})
        assert page.json()["total"] == 3
        assert [e["entity_id"] for e in page.json()["items"]] == ["xa-1", "xa-0"]

    def test_a_download_read_in_chunks_neither_repeats_nor_skips_an_entry(
            self, engine, registry) -> None:
        for number in range(5):
            new_unit(registry, code=f"xa-{number}", name=f"Xã Số {number}")
        expected = [e["id"] for e in trail(registry)]
        read: list[int] = []
        with Session(engine) as session:
            for entry in audit.every(session, audit.Filters(), chunk=2):
                read.append(entry.id or 0)
                if len(read) == 2:  # between the first chunk and the second
                    new_unit(registry, code="xa-moi", name="Xã Mới")
        assert read == expected

    def test_only_the_administrator_reads_the_trail(self, registry) -> None:
        assert registry.get("/v1/audit", headers=bearer("lanh-dao")).status_code == 403
        assert registry.get("/v1/audit", headers=bearer("unit:xa-a")).status_code == 403
        assert registry.get("/v1/audit").status_code == 401

    def test_the_csv_has_vietnamese_headers_then_the_codes(self, registry) -> None:
        new_unit(registry, name="=HYPERLINK(\"http://x\")")
        answer = registry.get("/v1/audit", headers=ADMIN, params={"format": "csv"})
        assert answer.status_code == 200, answer.text
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert rows[0] == ["Thời điểm", "Người thực hiện", "Đối tượng", "Mã", "Thao tác",
                           "Thay đổi", "Ghi chú"]
        assert rows[1] == ["at", "actor", "entity", "entity_id", "action", "changes", "note"]
        [line] = rows[2:]
        assert line[1:5] == ["Quản trị viên (admin)", "Đơn vị (unit)", "xa-an-hung",
                             "Tạo mới (created)"]
        assert json.loads(line[5])["name"] == "=HYPERLINK(\"http://x\")"
        assert datetime.fromisoformat(line[0]).utcoffset() == timedelta(hours=7)

    def test_the_xlsx_keeps_a_formula_like_name_as_text(self, registry) -> None:
        new_unit(registry, name="=HYPERLINK(\"http://x\")")
        registry.patch("/v1/units/xa-an-hung", headers=ADMIN,
                       json={"name": "=1+1"}).raise_for_status()
        answer = registry.get("/v1/audit", headers=ADMIN, params={"format": "xlsx"})
        assert answer.status_code == 200, answer.text
        sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
        rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
        header = rows.index(["Thời điểm", "Người thực hiện", "Đối tượng", "Mã", "Thao tác",
                             "Thay đổi", "Ghi chú"])
        assert rows[header + 1][4] == "action"
        updated = rows[header + 2]
        assert updated[4] == "Cập nhật (updated)"
        assert json.loads(updated[5]) == {"name": {"before": "=HYPERLINK(\"http://x\")",
                                                   "after": "=1+1"}}
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def on_behalf(version: int = 1, *, entered: bool = True) -> bytes:
    event = {"report_id": f"r-{version}", "unit_code": "xa-an-hung", "unit_kind": "commune",
             "campaign_code": "dai-hoi-xiv", "period": "2026-W06",
             "period_start": "2026-02-02", "period_end": "2026-02-08", "version": version,
             "received_at": "2026-02-09T02:00:00Z", "deadline": "2026-02-09T10:00:00Z",
             "on_time": True, "activities": [{"kind": "banner", "count": 2},
                                             {"kind": "banner", "count": 1}],
             "entered_by": {"credential_id": "cred_so", "label": "Phòng Báo chí",
                            "note": "Công văn số 12/UBND, nhận ngày 09/02/2026",
                            "entered_at": "2026-02-10T03:00:00Z"} if entered else None}
    return json.dumps(event).encode()


class TestReportsEnteredOnBehalf:
    def test_each_version_is_recorded_once_however_often_it_comes(
            self, engine, registry) -> None:
        source = MemorySource()
        for value in (on_behalf(1), on_behalf(1), on_behalf(2, entered=False)):
            source.put(REPORTS, "xa-an-hung", value)
        run(OnBehalfReports(), source, engine=engine)
        again = MemorySource()
        again.put(REPORTS, "xa-an-hung", on_behalf(1))
        run(OnBehalfReports(), again, engine=engine)
        [entry] = trail(registry, entity="report")
        assert entry["entity_id"] == "dai-hoi-xiv/2026-W06/xa-an-hung"
        assert entry["action"] == "entered_on_behalf"
        assert entry["actor"] == {"id": "cred_so", "scope": "department",
                                  "label": "Phòng Báo chí"}
        assert entry["note"] == "Công văn số 12/UBND, nhận ngày 09/02/2026"
        assert entry["at"] == "2026-02-10T03:00:00Z"
        assert entry["changes"]["activities"] == {"banner": 3}
        assert source.committed == {(REPORTS.name, 0): 3}

    def test_a_note_with_a_control_character_from_an_older_intake_is_kept_without_it(
            self, engine, registry) -> None:
        source = MemorySource()
        source.put(REPORTS, "xa-an-hung", on_behalf(1).replace(
            b"12/UBND", b"12\\u0000/UBND\\u001b"))
        run(OnBehalfReports(), source, engine=engine)
        [entry] = trail(registry, entity="report")
        assert entry["note"] == "Công văn số 12/UBND, nhận ngày 09/02/2026"

    def test_the_reporting_services_own_json_is_read_as_it_comes(
            self, engine, registry, monkeypatch) -> None:
        """Compact, as the reporting service writes it: a unit's own report is skipped
        without being parsed, one entered on its behalf is recorded."""
        own, entered = (ReportSubmitted.model_validate_json(on_behalf(version, entered=e))
                        .model_dump_json().encode() for version, e in ((1, False), (2, True)))
        parsed: list[bytes] = []
        monkeypatch.setattr(handlers.json, "loads", lambda value: parsed.append(value))
        source = MemorySource()
        for value in (own, entered):
            source.put(REPORTS, "xa-an-hung", value)
        run(OnBehalfReports(), source, engine=engine)
        monkeypatch.undo()
        assert parsed == []
        assert [e["changes"]["version"] for e in trail(registry, entity="report")] == [2]

    def test_an_unreadable_report_naming_who_entered_it_is_set_aside(
            self, engine, registry) -> None:
        source = MemorySource()
        source.put(REPORTS, "xa-an-hung", on_behalf(1).replace(b'"on_time": true',
                                                               b'"on_time": "maybe"'))
        source.put(REPORTS, "xa-an-hung", on_behalf(2))
        consumer = run(OnBehalfReports(), source, engine=engine)
        assert consumer.dead_letter_count == 1
        assert [e["changes"]["version"] for e in trail(registry, entity="report")] == [2]
