"""Reports received on paper or by email, entered by the Department on the unit's behalf:
in process, on a migrated SQLite database and an in-memory registry read model, with the
writer storing each report as it comes (tests.unit.test_reporting_api.InlineWriter)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from services.bus.directory import Directory
from services.events import CredentialSnapshot, ReportSubmitted
from services.observability import ServiceMetrics
from services.reporting.api import router
from services.reporting.metrics import IntakeMetrics
from services.reporting.migrations import MIGRATIONS
from services.reporting.on_behalf import router as on_behalf_router
from services.reporting.settings import ReportingSettings
from services.web.auth import Caller
from tests.unit.apps import TOKENS, bearer
from tests.unit.apps import client as app_client
from tests.unit.test_aggregator_rules import campaign, unit
from tests.unit.test_reporting_api import InlineWriter, error

STAFF = bearer("so-vhttdl")
LABEL = "Trần Thị B, Phòng Báo chí - Xuất bản"
NOTE = "Nhận bản giấy ngày 23/01, công văn số 12/UBND"
CALLERS = TOKENS | {"so-vhttdl": Caller("department", credential_id="cred-so"),
                    "so-khac": Caller("department", credential_id="cred-khac")}


def identify(token: str) -> Caller | None:
    """The tests' tokens (tests.unit.apps), and two of the Department's staff."""
    if token.startswith("unit:"):
        return Caller("unit", unit_code=token[5:])
    return CALLERS.get(token)


def entry(**fields: Any) -> dict[str, Any]:
    """A paper report of xa-1 for 2026-W04 (deadline 17:00 26/01/2026 in Hai Phong)."""
    return {"unit": "xa-1", "campaign": "dai-hoi-xiv", "period": "2026-W04",
            "activities": [{"kind": "banner", "count": 4}], "received_at": "2026-01-23",
            "note": NOTE} | fields


@pytest.fixture
def engine(migrated) -> sqlalchemy.Engine:
    return migrated(MIGRATIONS)


@pytest.fixture
def client(engine) -> TestClient:
    metrics = ServiceMetrics("reporting")
    holder = CredentialSnapshot(id="cred-so", scope="department", token_sha256="0" * 64,
                                label=LABEL, issued_at=datetime(2026, 1, 1, tzinfo=UTC))
    directory = Directory(units={"xa-1": unit("xa-1")}, campaigns={"dai-hoi-xiv": campaign()},
                          credentials={holder.token_sha256: holder})
    test_client = app_client(router, engine, metrics, settings=ReportingSettings(),
                             directory=directory, intake_metrics=IntakeMetrics(metrics),
                             writer=InlineWriter(engine, lambda: None), identify=identify)
    test_client.app.include_router(on_behalf_router)  # type: ignore[attr-defined]
    return test_client


def enter(client: TestClient, body: dict[str, Any], token: str = "so-vhttdl",
          key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = bearer(token) | ({"idempotency-key": key} if key else {})
    response = client.post("/v1/reports/on-behalf", json=body, headers=headers)
    return response.status_code, response.json()


def stored_events(engine: sqlalchemy.Engine) -> list[ReportSubmitted]:
    """The events waiting in the outbox, as the aggregator and notifier will read them."""
    with engine.connect() as db:
        rows = db.execute(sqlalchemy.text("SELECT value FROM outbox ORDER BY id")).all()
    return [ReportSubmitted.model_validate_json(value) for (value,) in rows]


class TestEntering:
    def test_the_receipt_and_the_event_say_who_entered_it_and_why(self, client,
                                                                 engine) -> None:
        before = datetime.now(UTC)
        status, receipt = enter(client, entry())
        assert status == 201 and receipt["version"] == 1
        by = receipt["entered_by"]
        assert (by["credential_id"], by["label"], by["note"]) == ("cred-so", LABEL, NOTE)
        assert datetime.fromisoformat(by["entered_at"]) >= before
        [event] = stored_events(engine)
        assert event.entered_by is not None and event.entered_by.label == LABEL
        assert event.entered_by.note == NOTE and event.unit_code == "xa-1"
        shown = client.get(f"/v1/reports/{receipt['report_id']}", headers=bearer("lanh-dao"))
        assert shown.json()["entered_by"]["label"] == LABEL

    def test_a_stated_date_is_its_first_moment_in_hai_phong(self, client, engine) -> None:
        status, receipt = enter(client, entry(received_at="2026-01-23"))
        assert status == 201
        assert datetime.fromisoformat(receipt["received_at"]) == datetime(2026, 1, 22, 17,
                                                                          tzinfo=UTC)
        [event] = stored_events(engine)
        assert event.received_at == event.first_received_at == datetime(2026, 1, 22, 17,
                                                                         tzinfo=UTC)
        assert receipt["on_time"] is True

    def test_a_stated_time_after_the_deadline_is_late_however_soon_it_is_entered(
            self, client) -> None:
        status, receipt = enter(client, entry(received_at="2026-01-26T17:30"))  # local time
        assert status == 201 and receipt["on_time"] is False
        assert datetime.fromisoformat(receipt["received_at"]) == datetime(2026, 1, 26, 10, 30,
                                                                          tzinfo=UTC)

    # The deadline is 17:00 on 26/01 in Hai Phong, 10:00 UTC. Each time below would fall on
    # the other side of it if its offset were dropped and the time read as Hai Phong's.
    @pytest.mark.parametrize(("stated", "utc", "on_time"), [
        ("2026-01-26T10:30:00Z", datetime(2026, 1, 26, 10, 30, tzinfo=UTC), False),
        ("2026-01-26T18:30:00+09:00", datetime(2026, 1, 26, 9, 30, tzinfo=UTC), True)])
    def test_a_stated_time_with_an_offset_is_taken_as_it_is(self, client, stated, utc,
                                                             on_time) -> None:
        status, receipt = enter(client, entry(received_at=stated))
        assert status == 201
        assert datetime.fromisoformat(receipt["received_at"]) == utc
        assert receipt["on_time"] is on_time

    def test_a_normal_receipt_has_no_one_entering_it(self, client) -> None:
        response = client.post("/v1/reports", headers=bearer("unit:xa-1"), json={
            "campaign": "dai-hoi-xiv", "period": "2026-W04", "activities": []})
        assert response.status_code == 201 and response.json()["entered_by"] is None

    def test_a_credential_without_a_label_in_the_registry_is_named_by_its_id(
            self, client) -> None:
        _, receipt = enter(client, entry(), token="so-khac")
        assert receipt["entered_by"]["label"] == "cred-khac"


class TestWhoMayEnter:
    @pytest.mark.parametrize("token", ["unit:xa-1", "lanh-dao"])
    def test_only_the_department_enters_reports_on_a_units_behalf(self, client,
                                                                  token) -> None:
        response = client.post("/v1/reports/on-behalf", json=entry(), headers=bearer(token))
        assert error(response)[:2] == (403, "forbidden")

    def test_no_token_is_unauthenticated(self, client) -> None:
        response = client.post("/v1/reports/on-behalf", json=entry())
        assert error(response)[:2] == (401, "unauthenticated")


class TestRefusals:
    def test_a_reception_in_the_future_is_refused(self, client) -> None:
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        status, body = enter(client, entry(received_at=tomorrow))
        assert (status, [(f["field"], f["rule"]) for f in body["error"]["fields"]]) == (
            422, [("received_at", "received_in_future")])
        assert body["error"]["message"].startswith("thời điểm nhận")  # Vietnamese first

    def test_a_reception_before_the_period_began_is_refused(self, client) -> None:
        status, body = enter(client, entry(received_at="2026-01-18T23:00"))
        assert (status, body["error"]["fields"][0]["field"],
                body["error"]["code"]) == (422, "received_at", "received_before_period")
        assert "19/01/2026" in body["error"]["message"]

    @pytest.mark.parametrize("note", [None, "", "   ", "x" * 501])
    def test_an_entry_needs_a_note_of_sensible_length(self, client, note) -> None:
        body = entry() if note is None else entry(note=note)
        if note is None:
            del body["note"]
        status, answer = enter(client, body)
        assert status == 422 and answer["error"]["fields"][0]["field"] == "note"

    @pytest.mark.parametrize("stated", ["0001-01-01", "0001-01-01T00:00:00+23:59",
                                        "9999-12-31T23:59:59-23:59"])
    def test_a_reception_that_utc_cannot_hold_is_refused_naming_it(self, client,
                                                                  stated) -> None:
        status, body = enter(client, entry(received_at=stated))
        assert (status, [(f["field"], f["rule"]) for f in body["error"]["fields"]]) == (
            422, [("received_at", "datetime_out_of_range")])

    @pytest.mark.parametrize("field", ["note", "report_note"])
    @pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f"])
    def test_a_control_character_in_a_note_is_refused_naming_the_note(
            self, client, engine, field, control) -> None:
        status, body = enter(client, entry(**{field: f"Công văn\tsố 12{control}/UBND"}))
        assert (status, [(f["field"], f["rule"]) for f in body["error"]["fields"]]) == (
            422, [(field, "control_character")])
        assert stored_events(engine) == []

    def test_tabs_and_line_ends_in_notes_are_kept(self, client) -> None:
        note = "Công văn số 12/UBND\r\nnhận\tngày 23/01"
        status, receipt = enter(client, entry(note=note, report_note=note))
        shown = client.get(f"/v1/reports/{receipt['report_id']}", headers=bearer("lanh-dao"))
        assert status == 201 and receipt["entered_by"]["note"] == note
        assert shown.json()["note"] == note

    def test_a_body_over_the_limit_is_refused_before_it_is_read(self, client,
                                                                engine) -> None:
        limit = client.app.state.settings.max_body_bytes
        padded = b'{"unit": "xa-1"' + b" " * limit + b"}"
        declared = client.post("/v1/reports/on-behalf", content=padded,
                               headers=STAFF | {"content-type": "application/json"})
        assert error(declared)[:2] == (413, "body_too_large")

        def streamed() -> Any:  # no content-length: refused as the bytes come
            yield b'{"unit": "xa-1"'
            for _ in range(limit // 4096 + 1):
                yield b" " * 4096
            yield b"}"

        chunked = client.post("/v1/reports/on-behalf", content=streamed(),
                              headers=STAFF | {"content-type": "application/json"})
        assert error(chunked)[:2] == (413, "body_too_large")
        assert stored_events(engine) == []

    def test_a_body_not_declared_as_json_is_unsupported(self, client) -> None:
        answer = client.post("/v1/reports/on-behalf", content=b"unit=xa-1",
                             headers=STAFF | {"content-type": "text/plain"})
        assert error(answer)[:2] == (415, "unsupported_media_type")

    def test_an_unknown_unit_is_refused(self, client) -> None:
        status, body = enter(client, entry(unit="xa-khong-co"))
        assert (status, body["error"]["fields"][0]["field"],
                body["error"]["code"]) == (422, "unit", "unit_unknown")

    def test_a_unit_retired_before_the_period_is_refused_as_its_own_report_would_be(
            self, client) -> None:
        client.app.state.directory.units["xa-2"] = unit(
            "xa-2", active_until="2026-01-10")
        status, body = enter(client, entry(unit="xa-2"))
        assert (status, body["error"]["code"]) == (403, "unit_retired")

    def test_nothing_refused_is_stored(self, client, engine) -> None:
        enter(client, entry(unit="xa-khong-co"))
        enter(client, entry(note=""))
        assert stored_events(engine) == []


class TestRevisions:
    def test_the_units_own_report_after_it_is_a_revision_judged_by_the_paper_one(
            self, client, engine) -> None:
        _, paper = enter(client, entry(received_at="2026-01-24"))
        response = client.post("/v1/reports", headers=bearer("unit:xa-1"), json={
            "campaign": "dai-hoi-xiv", "period": "2026-W04",
            "activities": [{"kind": "banner", "count": 5}]})
        own = response.json()
        assert (own["version"], own["supersedes"], own["entered_by"]) == (
            2, paper["report_id"], None)
        assert own["on_time"] is True  # its first report, on paper, was in time
        assert [e.version for e in stored_events(engine)] == [1, 2]

    def test_a_paper_report_stated_as_received_before_the_standing_one_is_refused(
            self, client, engine) -> None:
        client.post("/v1/reports", headers=bearer("unit:xa-1"), json={
            "campaign": "dai-hoi-xiv", "period": "2026-W04", "activities": []})
        status, body = enter(client, entry(received_at="2026-01-24"))
        assert (status, body["error"]["code"], body["error"]["fields"][0]["field"]) == (
            409, "received_before_latest", "received_at")
        assert len(stored_events(engine)) == 1

    def test_a_later_paper_report_revises_the_units_own_and_keeps_its_timeliness(
            self, client) -> None:
        _, first = enter(client, entry(received_at="2026-01-27", note="Bản giấy lần 1"))
        status, second = enter(client, entry(received_at="2026-01-28", note="Bản bổ sung"))
        assert status == 201 and (second["version"], second["on_time"]) == (2, False)
        assert second["first_received_at"] == first["received_at"]

    def test_the_same_entry_with_the_same_key_is_a_replay(self, client, engine) -> None:
        status, first = enter(client, entry(), key="giay-12")
        again = client.post("/v1/reports/on-behalf", json=entry(),
                            headers=STAFF | {"idempotency-key": "giay-12"})
        assert (status, again.status_code) == (201, 200)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["report_id"] == first["report_id"]
        assert len(stored_events(engine)) == 1

    def test_the_same_key_with_another_reception_is_refused(self, client) -> None:
        enter(client, entry(), key="giay-12")
        status, body = enter(client, entry(received_at="2026-01-24"), key="giay-12")
        assert (status, body["error"]["code"]) == (409, "report_id_reused")

    def test_the_departments_key_never_replays_the_units_own(self, client) -> None:
        client.post("/v1/reports", headers=bearer("unit:xa-1") | {"idempotency-key": "k"},
                    json={"campaign": "dai-hoi-xiv", "period": "2026-W04",
                          "activities": []})
        status, body = enter(client, entry(received_at=datetime.now(UTC).isoformat()),
                             key="k")
        assert status == 201 and body["version"] == 2 and body["entered_by"] is not None
