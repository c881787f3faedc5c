"""Intake's routes in process, on a migrated SQLite database and an in-memory registry read
model: what a body must declare itself as, query bounds, capped bulk answers, receipts'
timestamps."""

import json
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from services.bus.directory import Directory
from services.observability import ServiceMetrics
from services.reporting.api import router
from services.reporting.intake import IntakeWriter
from services.reporting.metrics import IntakeMetrics
from services.reporting.migrations import MIGRATIONS
from services.reporting.schemas import Receipt, ReportOut
from services.reporting.service import Draft
from services.reporting.settings import ReportingSettings
from tests.unit.apps import bearer
from tests.unit.apps import client as app_client
from tests.unit.test_aggregator_rules import campaign, unit

UNIT = bearer("unit:xa-1")
REPORT = b'{"campaign": "dai-hoi-xiv", "period": "2026-W04", "activities": []}'


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics("reporting")


@pytest.fixture
def client(migrated, metrics) -> TestClient:
    directory = Directory(units={"xa-1": unit("xa-1")}, campaigns={"dai-hoi-xiv": campaign()})
    return app_client(router, migrated(MIGRATIONS), metrics, settings=ReportingSettings(),
                      directory=directory, intake_metrics=IntakeMetrics(metrics))


def error(response) -> tuple[int, str, list[tuple[str, str]]]:
    body = response.json()["error"]
    return response.status_code, body["code"], [(f["field"], f["rule"]) for f in body["fields"]]


UNSUPPORTED = (415, "unsupported_media_type", [("header.content-type", "unsupported_media_type")])


class TestMediaType:
    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                              "multipart/form-data; boundary=x", None])
    def test_a_report_not_declared_as_json_is_unsupported(self, client, metrics,
                                                          content_type) -> None:
        headers = UNIT | ({"content-type": content_type} if content_type else {})
        response = client.post("/v1/reports", content=REPORT, headers=headers)
        assert error(response) == UNSUPPORTED
        assert metrics.registry.get_sample_value(
            "reports_rejected_total", {"reason": "unsupported_media_type"}) == 1

    @pytest.mark.parametrize("content_type", ["application/json",
                                              "application/json; charset=utf-8",
                                              "Application/JSON"])
    def test_json_with_or_without_parameters_goes_on_to_the_token(self, client,
                                                                  content_type) -> None:
        response = client.post("/v1/reports", content=REPORT,
                               headers={"content-type": content_type})
        assert error(response)[:2] == (401, "unauthenticated")

    def test_a_bulk_file_not_declared_as_csv_is_unsupported(self, client) -> None:
        for content_type in ("text/plain", "application/json"):
            response = client.post("/v1/reports/bulk", params={"campaign": "dai-hoi-xiv"},
                                   content=b"period,kind,count\n2026-W04,banner,1\n",
                                   headers=UNIT | {"content-type": content_type})
            assert error(response) == UNSUPPORTED

    def test_the_openapi_document_names_the_415(self, client) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/v1/reports", "/v1/reports/bulk"):
            assert "415" in paths[path]["post"]["responses"], path


class TestQueryBounds:
    @pytest.mark.parametrize("offset", ["9223372036854775808", "1000001"])
    def test_an_offset_beyond_any_list_is_refused(self, client, offset) -> None:
        response = client.get("/v1/reports", headers=bearer("lanh-dao"),
                              params={"offset": offset})
        assert error(response) == (422, "invalid", [("query.offset", "less_than_equal")])

    def test_the_largest_offset_is_an_empty_page(self, client) -> None:
        response = client.get("/v1/reports", headers=bearer("lanh-dao"),
                              params={"offset": 1_000_000})
        assert response.json() == {"items": [], "total": 0}


def upload(client: TestClient, csv: str) -> tuple[int, dict]:
    response = client.post("/v1/reports/bulk", params={"campaign": "dai-hoi-xiv"},
                           content=csv.encode(), headers=UNIT | {"content-type": "text/csv"})
    return response.status_code, response.json()


class TestBulkAnswerSize:
    def test_a_header_of_a_million_columns_gets_a_capped_refusal(self, client) -> None:
        status, body = upload(client, ",".join(["a"] * 1_000_000) + "\n")
        assert status == 422 and body["error"]["code"] == "bad_header"
        assert len(json.dumps(body)) < 20_000
        fields = body["error"]["fields"]
        assert len(fields) == 101
        assert fields[0] == {"field": "a", "rule": "unknown_column",
                             "message": "not a known column"}
        assert fields[-1] == {"field": "", "rule": "more_problems",
                              "message": "999902 more problems not listed"}

    def test_a_file_of_bad_rows_lists_the_first_problems_and_counts_the_rest(
            self, client) -> None:
        rows = "".join(f"2026-W04,parade,{n}\n" for n in range(1000))
        status, body = upload(client, "period,kind,count\n" + rows)
        assert status == 422 and (body["accepted"], body["rejected"]) == (0, 1)
        assert [r["line"] for r in body["rows"]] == list(range(2, 1002))
        listed = [(r["line"], e["rule"]) for r in body["rows"] for e in r["errors"]]
        assert listed[:100] == [(line, "union_tag_invalid") for line in range(2, 102)]
        assert listed[100:] == [(102, "more_problems")]
        assert body["rows"][100]["errors"][0]["message"].startswith("900 more problems")


class TestTimestamps:
    NAIVE = {"report_id": "r1", "unit": "xa-1", "campaign": "dai-hoi-xiv",
             "period": "2026-W04", "version": 1, "supersedes": None,
             "received_at": "2026-01-20T08:00:00", "deadline": "2026-01-26T10:00:00",
             "on_time": True, "first_received_at": "2026-01-20T08:00:00"}

    def test_a_receipt_carries_the_utc_offset_of_every_timestamp(self) -> None:
        sent = Receipt.model_validate(self.NAIVE).model_dump(mode="json")
        stored = ReportOut.model_validate(self.NAIVE | {
            "period_start": "2026-01-19", "period_end": "2026-01-25", "activities": [],
            "note": None}).model_dump(mode="json")
        for body in (sent, stored):
            for name in ("received_at", "deadline", "first_received_at"):
                assert datetime.fromisoformat(body[name]).utcoffset() is not None, name


class InlineWriter(IntakeWriter):
    """Intake's writer, each report written as it is submitted (no batching task)."""

    async def submit(self, draft: Draft) -> tuple[Receipt, bool]:
        [outcome] = await self._write([draft])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class TestReportIdsPerUnit:
    """A report id is its unit's own: another unit may choose it too, and learns nothing."""

    @pytest.fixture
    def client(self, migrated, metrics) -> TestClient:
        directory = Directory(units={code: unit(code) for code in ("xa-1", "xa-2")},
                              campaigns={"dai-hoi-xiv": campaign()})
        engine = migrated(MIGRATIONS)
        return app_client(router, engine, metrics, settings=ReportingSettings(),
                          directory=directory, intake_metrics=IntakeMetrics(metrics),
                          writer=InlineWriter(engine, lambda: None))

    def submit(self, client: TestClient, code: str, count: int) -> tuple[int, dict]:
        response = client.post("/v1/reports", headers=bearer(f"unit:{code}"), json={
            "campaign": "dai-hoi-xiv", "period": "2026-W04", "report_id": "bao-cao-1",
            "activities": [{"kind": "banner", "count": count}]})
        return response.status_code, response.json()

    def test_two_units_use_one_id_and_each_reads_its_own(self, client) -> None:
        assert self.submit(client, "xa-1", 1)[0] == 201
        status, theirs = self.submit(client, "xa-2", 2)
        assert status == 201 and (theirs["unit"], theirs["version"]) == ("xa-2", 1)
        for code, count in (("xa-1", 1), ("xa-2", 2)):
            mine = client.get("/v1/reports/bao-cao-1", headers=bearer(f"unit:{code}")).json()
            assert (mine["unit"], mine["activities"][0]["count"]) == (code, count)
        other = client.get("/v1/reports/bao-cao-1", headers=bearer("unit:xa-1"),
                           params={"unit": "xa-2"})
        assert error(other)[:2] == (403, "forbidden")

    def test_a_reader_names_the_unit_when_several_use_the_id(self, client) -> None:
        self.submit(client, "xa-1", 1)
        lead = bearer("lanh-dao")
        assert client.get("/v1/reports/bao-cao-1", headers=lead).json()["unit"] == "xa-1"
        self.submit(client, "xa-2", 2)
        ambiguous = client.get("/v1/reports/bao-cao-1", headers=lead)
        assert error(ambiguous) == (409, "report_id_ambiguous", [("unit", "report_id_ambiguous")])
        assert "xa-1, xa-2" in ambiguous.json()["error"]["message"]
        named = client.get("/v1/reports/bao-cao-1", headers=lead, params={"unit": "xa-2"})
        assert named.json()["activities"][0]["count"] == 2
