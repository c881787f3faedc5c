"""Report intake end to end: a unit's token in, one durable event per report out."""

import csv
import io
import json
import os
import signal
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from deploy.brokers import launch
from services.callers import new_token
from tests.rig import BROKER, Record, ServiceProcess, TopicReader, alive, until

pytestmark = pytest.mark.integration
REPORTS = "reporting.reports.v1"


@dataclass
class Stack:
    registry: ServiceProcess
    reporting: ServiceProcess
    reader: TopicReader

    def unit(self, kind: str = "commune", **fields: Any) -> tuple[str, str]:
        """A new unit and its token, once reporting knows both."""
        code = f"xa-thu-{uuid.uuid4().hex[:8]}"
        self.registry.admin().post("/v1/units", json={
            "code": code, "name": f"Xã Thử {code}", "kind": kind,
            "active_from": "2025-07-01"} | fields).raise_for_status()
        token = self.registry.admin().post("/v1/credentials", json={
            "scope": "unit", "unit_code": code, "label": "cán bộ"}).json()["token"]
        until(lambda: self.submit(token, {}).json()["error"]["code"] not in (
            "unauthenticated", "unit_unknown"))
        return code, token

    def leadership(self) -> str:
        token = self.registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]
        until(lambda: self.reporting.client(token).get("/v1/reports").status_code == 200)
        return str(token)

    def submit(self, token: str | None, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        auth = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.reporting.url + "/v1/reports", content=content,
                          headers=auth | {"content-type": "application/json"} | headers,
                          timeout=30)

    def upload(self, token: str, csv: str) -> httpx.Response:
        """A bulk CSV file for the campaign."""
        return httpx.post(self.reporting.url + "/v1/reports/bulk",
                          params={"campaign": "dai-hoi-xiv"}, content=csv.encode(),
                          headers={"authorization": f"Bearer {token}",
                                   "content-type": "text/csv"}, timeout=30)

    def events_of(self, unit: str, count: int, timeout: float = 20) -> list[Record]:
        records = self.reader.read(REPORTS, timeout=timeout, until=lambda rs: len(
            [r for r in rs if r.key == unit]) >= count)
        return [r for r in records if r.key == unit]




def report(**fields: Any) -> dict[str, Any]:
    return {"campaign": "dai-hoi-xiv", "period": "2026-W04", "activities": [
        {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-19": 2, "2026-01-20": 1}},
        {"kind": "social_post", "count": 4, "platform": "zalo", "format": "infographic",
         "evidence_urls": ["https://zalo.me/p/1"]},
        {"kind": "foreign_language_item", "count": 1, "language": "ko", "format": "bulletin"},
        {"kind": "mobilisation", "count": 1, "people_mobilised": 120, "shares": 340},
    ]} | fields


@pytest.fixture(scope="module")
def stack(module_services, broker) -> Stack:
    """One registry and one reporting service for the module; each test makes its units."""
    registry = module_services("registry")
    return Stack(registry, module_services("reporting"), TopicReader(broker.bootstrap))


class TestAccepting:
    def test_valid_report_becomes_exactly_one_event_with_the_same_content(self, stack) -> None:
        unit, token = stack.unit()
        response = stack.submit(token, report(report_id="w04-a"))
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["unit"] == unit and receipt["version"] == 1
        assert receipt["deadline"] == "2026-01-26T10:00:00Z" and receipt["on_time"] is False
        [event] = stack.events_of(unit, 1)
        assert event.value is not None
        assert event.value["report_id"] == "w04-a" and event.value["unit_kind"] == "commune"
        sent = [{"evidence_urls": []} | a for a in report()["activities"]]
        sent[0]["count"] = 3  # the sum of the daily counts, filled in at intake
        assert event.value["activities"] == sent
        stored = stack.reporting.client(token).get("/v1/reports/w04-a").json()
        assert stored["activities"] == event.value["activities"]

    def test_fifty_concurrent_retries_give_one_event_and_identical_receipts(self, stack) -> None:
        unit, token = stack.unit()
        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(lambda _: stack.submit(
                token, report(), **{"idempotency-key": "gui-lan-1"}), range(50)))
        assert {r.status_code for r in responses} <= {200, 201}
        assert [r.status_code for r in responses].count(201) == 1
        assert len({r.text for r in responses}) == 1
        marker = stack.submit(token, report(period="2026-W05", report_id="marker",
                                            activities=[{"kind": "banner", "count": 1}]))
        assert marker.status_code == 201
        events = stack.events_of(unit, 2)
        assert [e.value["period"] for e in events] == ["2026-W04", "2026-W05"]

    def test_a_different_report_for_the_same_period_is_a_revision(self, stack) -> None:
        unit, token = stack.unit()
        first = stack.submit(token, report(report_id="w04-v1")).json()
        second = stack.submit(token, report(report_id="w04-v2", note="bổ sung")).json()
        assert (second["version"], second["supersedes"]) == (2, "w04-v1")
        assert first["first_received_at"] == second["first_received_at"] == first["received_at"]
        events = stack.events_of(unit, 2)
        assert [(e.value["version"], e.value["supersedes"]) for e in events] == [
            (1, None), (2, "w04-v1")]
        assert {e.value["first_received_at"] for e in events} == {first["received_at"]}
        listed = stack.reporting.client(token).get("/v1/reports").json()
        assert {r["report_id"] for r in listed["items"]} == {first["report_id"], "w04-v2"}

    def test_same_id_with_other_content_is_a_conflict(self, stack) -> None:
        _, token = stack.unit()
        assert stack.submit(token, report(report_id="r1")).status_code == 201
        clash = stack.submit(token, report(report_id="r1", note="khác"))
        assert clash.status_code == 409 and clash.json()["error"]["code"] == "report_id_reused"

    def test_report_accepted_while_the_broker_is_down_is_published_when_it_returns(
            self, service_factory, tmp_path) -> None:
        own = launch(BROKER, workdir=tmp_path / "broker")
        try:
            stack = Stack(service_factory("registry", on=own),
                          service_factory("reporting", on=own), TopicReader(own.bootstrap))
            unit, token = stack.unit()
            own.stop()
            accepted = stack.submit(token, report(report_id="offline-1"))
            assert accepted.status_code == 201
            # not ready, and the broker check says the relay cannot publish (the registry
            # check may say first that the read model lost the broker)
            until(lambda: _ready(stack) == 503
                  and "outbox relay" in _readiness(stack)["checks"]["broker"])
            own.start()
            events = stack.events_of(unit, 1, timeout=60)
            # Tansu keeps nothing: back, it has lost its topics, and the service publishes
            # every report again, this one perhaps with its pending first copy (at least once)
            assert {e.value["report_id"] for e in events if e.value} == {"offline-1"}
            until(lambda: _ready(stack) == 200)
        finally:
            own.stop()

    def test_the_relay_runs_beside_the_service_and_is_started_again_when_it_dies(
            self, stack) -> None:
        unit, token = stack.unit()
        [relay] = stack.reporting.children()
        os.kill(relay, signal.SIGKILL)
        until(lambda: stack.reporting.children() not in ([], [relay]))
        assert stack.submit(token, report(report_id="after-relay-died")).status_code == 201
        [event] = stack.events_of(unit, 1)
        assert event.value is not None and event.value["report_id"] == "after-relay-died"
        until(lambda: _ready(stack) == 200)

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
    def test_the_relay_stops_with_the_service(self, service_factory, sig) -> None:
        service_factory("registry")
        reporting = service_factory("reporting")
        [relay] = reporting.children()
        code = reporting.stop(sig)
        if sig == signal.SIGTERM:  # the service waited for its relay to finish
            assert code == 0 and not alive(relay)
            assert '"outbox.relay_stopped"' in reporting.logs()
        else:  # the relay saw its stdin close
            until(lambda: not alive(relay), timeout=10)

    def test_unit_created_or_retired_in_the_registry_is_known_within_seconds(
            self, stack) -> None:
        unit, token = stack.unit()
        assert stack.submit(token, report()).status_code == 201
        stack.registry.admin().post(f"/v1/units/{unit}/retire",  # the last day of 2026-W04
                                    json={"active_until": "2026-01-25"}).raise_for_status()
        started = time.monotonic()
        until(lambda: stack.submit(token, report(period="2026-W05")).status_code == 403)
        assert time.monotonic() - started < 5


class TestNewTokens:
    """A token works at intake as soon as the registry's answer issuing it has come: intake
    waits the moment it takes the registry's record to arrive, rather than refuse it."""

    def test_a_token_issued_just_now_submits_at_once(self, stack) -> None:
        code = f"xa-moi-{uuid.uuid4().hex[:8]}"
        admin = stack.registry.admin()
        admin.post("/v1/units", json={"code": code, "name": f"Xã Mới {code}",
                                      "kind": "commune", "active_from": "2025-07-01"}
                   ).raise_for_status()
        token = admin.post("/v1/credentials", json={"scope": "unit", "unit_code": code,
                                                    "label": "cán bộ"}).json()["token"]
        answer = stack.submit(token, report())  # no waiting on this side
        assert answer.status_code == 201, answer.text
        assert answer.json()["unit"] == code

    def test_every_token_of_a_hand_out_file_submits_at_once(self, stack) -> None:
        admin = stack.registry.admin()
        codes = [f"xa-dot-{uuid.uuid4().hex[:8]}" for _ in range(5)]
        for code in codes:
            admin.post("/v1/units", json={"code": code, "name": f"Xã Đợt {code}",
                                          "kind": "commune", "active_from": "2025-07-01"}
                       ).raise_for_status()
        issued = admin.post("/v1/credentials/batch", headers={"accept": "text/csv"},
                            json={"unit_codes": codes, "label": "Đợt 1"})
        assert issued.status_code == 201, issued.text
        lines = io.StringIO(issued.content.decode("utf-8-sig"))
        next(lines)  # the Vietnamese headers: the codes are the second row
        rows = list(csv.DictReader(lines))
        assert [r["code"] for r in rows] == codes
        with ThreadPoolExecutor(len(rows)) as pool:
            answers = list(pool.map(lambda r: stack.submit(r["token"], report()), rows))
        assert [a.status_code for a in answers] == [201] * len(rows), answers[0].text
        assert sorted(a.json()["unit"] for a in answers) == sorted(codes)

    def test_a_made_up_token_in_the_new_form_is_refused_after_the_wait(self, stack) -> None:
        made_up = new_token(datetime.now(UTC))
        started = time.monotonic()
        assert _rule(stack.submit(made_up, report())) == (401, "unauthenticated")
        assert 4 < time.monotonic() - started < 15


def _rule(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


class TestRefusing:
    CASES: dict[str, tuple[Any, int, str, str | None]] = {
        "malformed_json": (b'{"campaign": ', 400, "malformed_json", None),
        "not_utf8": (b'{"campaign": "\xff"}', 400, "not_utf8", None),
        "unknown_campaign": (report(campaign="khong-co"), 422, "campaign_unknown", "campaign"),
        "period_outside_campaign": (report(period="2026-W20"), 422, "period_outside_campaign",
                                    "period"),
        "period_format": (report(period="tuần 4"), 422, "period_format", "period"),
        "unknown_activity_kind": (report(activities=[{"kind": "parade", "count": 1}]), 422,
                                  "invalid", "activities.0"),
        "social_post_without_platform": (
            report(activities=[{"kind": "social_post", "count": 1, "format": "video"}]), 422,
            "invalid", "activities.0.social_post.platform"),
        "foreign_item_without_language": (
            report(activities=[{"kind": "foreign_language_item", "count": 1,
                                "format": "bulletin"}]),
            422, "invalid", "activities.0.foreign_language_item.language"),
        "language_outside_the_four": (
            report(activities=[{"kind": "foreign_language_item", "count": 1, "language": "fr",
                                "format": "bulletin"}]),
            422, "invalid", "activities.0.foreign_language_item.language"),
        "negative_count": (report(activities=[{"kind": "banner", "count": -1}]), 422,
                           "invalid", "activities.0.banner.count"),
        "negative_daily_count": (
            report(activities=[{"kind": "loudspeaker_broadcast",
                                "daily_counts": {"2026-01-19": -2}}]),
            422, "invalid", "activities.0.loudspeaker_broadcast.daily_counts.2026-01-19"),
        "broadcast_day_outside_period": (
            report(activities=[{"kind": "loudspeaker_broadcast",
                                "daily_counts": {"2026-01-26": 1}}]),
            422, "day_outside_period", "activities.0.daily_counts"),
        "over_large_body": (report(note="x" * 300_000), 413, "body_too_large", None),
    }

    @pytest.mark.parametrize("case", CASES, ids=list(CASES))
    def test_rejection_names_field_and_rule_and_stores_nothing(self, stack, case) -> None:
        body, status, code, field = self.CASES[case]
        unit, token = stack.unit()
        response = stack.submit(token, body)
        assert _rule(response) == (status, code), response.text
        if field is not None:
            assert field in {f["field"] for f in response.json()["error"]["fields"]}
        assert stack.reporting.client(token).get("/v1/reports").json()["total"] == 0
        stack.submit(token, report(report_id=f"after-{case}")).raise_for_status()
        assert [e.value["report_id"] for e in stack.events_of(unit, 1)] == [
            f"after-{case}"]

    def test_the_idempotency_key_is_documented_and_its_limit_named(self, stack) -> None:
        _, token = stack.unit()
        response = stack.submit(token, report(), **{"idempotency-key": "k" * 201})
        assert _rule(response) == (422, "invalid"), response.text
        [field] = response.json()["error"]["fields"]
        assert (field["field"], field["rule"]) == ("header.idempotency-key", "string_too_long")
        assert stack.reporting.client(token).get("/v1/reports").json()["total"] == 0
        document = httpx.get(stack.reporting.url + "/openapi.json").json()
        [header] = document["paths"]["/v1/reports"]["post"]["parameters"]
        assert header["name"] == "idempotency-key" and header["in"] == "header"
        assert {"maxLength": 200, "type": "string"} in header["schema"]["anyOf"]

    @pytest.mark.parametrize("content_type", ["text/plain", None])
    def test_a_report_not_declared_as_json_is_unsupported_and_stores_nothing(
            self, stack, content_type) -> None:
        _, token = stack.unit()
        headers = {"content-type": content_type} if content_type else {}
        response = httpx.post(stack.reporting.url + "/v1/reports", timeout=30,
                              content=json.dumps(report()).encode(),
                              headers={"authorization": f"Bearer {token}"} | headers)
        assert _rule(response) == (415, "unsupported_media_type"), response.text
        assert [(f["field"], f["rule"]) for f in response.json()["error"]["fields"]] == [
            ("header.content-type", "unsupported_media_type")]
        assert stack.reporting.client(token).get("/v1/reports").json()["total"] == 0

    def test_missing_and_unknown_tokens_get_401(self, stack) -> None:
        assert _rule(stack.submit(None, report())) == (401, "unauthenticated")
        assert _rule(stack.submit("hpk_made-up", report())) == (401, "unauthenticated")

    def test_campaign_not_running_is_refused(self, stack) -> None:
        _, token = stack.unit()
        stack.registry.admin().post("/v1/campaigns", json={
            "code": "bau-cu-2031", "name": "Bầu cử 2031", "starts_on": "2031-03-01",
            "ends_on": "2031-05-31", "targets": {"commune": {}}}).raise_for_status()
        until(lambda: _rule(stack.submit(token, report(campaign="bau-cu-2031")))[1] !=
              "campaign_unknown")
        refused = stack.submit(token, report(campaign="bau-cu-2031", period="2031-W10"))
        assert _rule(refused) == (422, "campaign_not_running")

    def test_retired_unit_and_leadership_tokens_cannot_submit(self, stack) -> None:
        _, token = stack.unit(active_until="2026-01-18")  # the last day of 2026-W03
        assert _rule(stack.submit(token, report())) == (403, "unit_retired")
        assert _rule(stack.submit(stack.leadership(), report())) == (403, "forbidden")

    def test_unit_not_yet_active_cannot_report_for_an_earlier_period(self, stack) -> None:
        _, token = stack.unit(active_from="2026-01-26")  # the first day of 2026-W05
        refused = stack.submit(token, report())
        assert _rule(refused) == (403, "unit_not_active")
        assert "reports from 2026-01-26" in refused.json()["error"]["message"]
        assert stack.submit(token, report(period="2026-W05", activities=[
            {"kind": "banner", "count": 1}])).status_code == 201


class TestRetirement:
    def test_retired_unit_still_reports_the_periods_it_was_active_in(self, stack) -> None:
        # Retired on the last day of 2026-W04, months ago: that week's report is still due.
        unit, token = stack.unit(active_until="2026-01-25")
        accepted = stack.submit(token, report(report_id="last-week"))
        assert accepted.status_code == 201, accepted.text
        refused = stack.submit(token, report(period="2026-W05"))
        assert _rule(refused) == (403, "unit_retired")
        assert "last active day was 2026-01-25" in refused.json()["error"]["message"]
        [event] = stack.events_of(unit, 1)
        assert event.value is not None and event.value["period"] == "2026-W04"

    def test_bulk_applies_the_unit_s_active_days_to_each_period(self, stack) -> None:
        _, token = stack.unit(active_until="2026-01-25")
        result = stack.upload(token, "period,kind,count\n2026-W04,banner,1\n"
                                     "2026-W05,banner,1\n").json()
        assert (result["accepted"], result["rejected"]) == (1, 1)
        by_line = {r["line"]: r for r in result["rows"]}
        assert by_line[2]["status"] == "accepted"
        assert [e["rule"] for e in by_line[3]["errors"]] == ["unit_retired"]


class TestIsolation:
    def test_unit_a_cannot_submit_read_or_list_for_unit_b(self, stack) -> None:
        unit_a, token_a = stack.unit()
        unit_b, token_b = stack.unit()
        b_report = stack.submit(token_b, report(report_id="b-1")).json()
        assert _rule(stack.submit(token_a, report(unit=unit_b))) == (403, "unit_mismatch")
        assert stack.reporting.client(token_a).get(
            f"/v1/reports/{b_report['report_id']}").status_code == 404
        assert stack.reporting.client(token_a).get(
            "/v1/reports", params={"unit": unit_b}).status_code == 403
        assert stack.reporting.client(token_a).get("/v1/reports").json()["total"] == 0
        leader = stack.reporting.client(stack.leadership())
        assert leader.get("/v1/reports", params={"unit": unit_b}).json()["total"] == 1
        assert leader.get("/v1/reports/b-1").json()["unit"] == unit_b
        assert unit_a != unit_b


class TestBulk:
    CSV = ("period,kind,count,day,platform,format,language,report_id,evidence_url\n"
           "2026-W03,banner,1,,,,,w03,https://haiphong.gov.vn/banner\n"
           "2026-W03,loudspeaker_broadcast,2,2026-01-13,,,,w03,\n"
           "2026-W03,loudspeaker_broadcast,1,2026-01-14,,,,w03,\n"
           "2026-W04,social_post,3,,facebook,video,,w04,\n"
           "2026-W04,foreign_language_item,1,,,bulletin,fr,w04,\n"
           "2026-W05,loudspeaker_broadcast,1,2026-01-20,,,,w05,\n")

    def test_bulk_csv_reports_several_periods_with_a_result_per_row(self, stack) -> None:
        unit, token = stack.unit()
        response = stack.upload(token, self.CSV)
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["accepted"], result["rejected"]) == (1, 2)
        by_line = {r["line"]: r for r in result["rows"]}
        assert [by_line[n]["status"] for n in (2, 3, 4)] == ["accepted"] * 3
        assert by_line[6]["errors"][0]["field"] == "foreign_language_item.language"
        assert by_line[5]["status"] == "rejected" and by_line[5]["errors"] == []
        assert by_line[7]["errors"][0]["rule"] == "day_outside_period"
        [event] = stack.events_of(unit, 1)
        assert event.value is not None and event.value["report_id"] == "w03"
        broadcast = event.value["activities"][1]
        assert broadcast["daily_counts"] == {"2026-01-13": 2, "2026-01-14": 1}
        again = stack.upload(token, self.CSV).json()
        assert (again["accepted"], again["replayed"]) == (0, 1)

    def test_bulk_file_with_a_bad_header_is_refused(self, stack) -> None:
        _, token = stack.unit()
        refused = stack.upload(token, "tuan,kind\n2026-W03,banner\n")
        assert _rule(refused) == (422, "bad_header")
        assert {f["field"] for f in refused.json()["error"]["fields"]} == {"tuan", "period"}


class TestMetrics:
    @pytest.mark.parametrize(("route", "query", "content_type"), [
        ("/v1/reports", "", "application/json"),
        ("/v1/reports/bulk", "?campaign=dai-hoi-xiv", "text/csv")], ids=["report", "bulk"])
    def test_a_client_gone_mid_body_is_counted_as_499_not_as_a_server_error(
            self, stack, route, query, content_type) -> None:
        _, token = stack.unit()
        before = _metrics(stack)
        with socket.create_connection(("127.0.0.1", stack.reporting.port)) as client:
            client.sendall(f"POST {route}{query} HTTP/1.1\r\nhost: x\r\nauthorization: "
                           f"Bearer {token}\r\ncontent-type: {content_type}\r\n"
                           "content-length: 100000\r\n\r\nperiod,kind".encode())
            time.sleep(0.3)  # the service is reading the body when the client goes
        series = f'http_requests_total{{method="POST",route="{route}",status="%s"}}'
        until(lambda: _value(_metrics(stack), series % 499) > _value(before, series % 499))
        after = _metrics(stack)
        assert _value(after, series % 500) == _value(before, series % 500)
        assert _value(after, 'errors_total{kind="http"}') == \
            _value(before, 'errors_total{kind="http"}')
        assert '"http.client_disconnected"' in stack.reporting.logs()

    def test_metrics_count_accepted_rejected_revisions_and_the_outbox(self, stack) -> None:
        _, token = stack.unit()
        stack.submit(token, report(report_id="m1")).raise_for_status()
        stack.submit(token, report(report_id="m2", note="sửa")).raise_for_status()
        stack.submit(token, report(report_id="m2", note="sửa")).raise_for_status()
        stack.submit(token, report(campaign="khong-co"))

        def relayed() -> bool:  # the relay, a process of its own, tells the service
            text = _metrics(stack)
            return min(_value(text, f'messages_published_total{{topic="{REPORTS}"}}'),
                       _value(text, "outbox_publish_duration_seconds_count")) >= 2

        until(relayed)
        text = _metrics(stack)
        assert _value(text, 'reports_accepted_total{timeliness="late"}') >= 2
        assert _value(text, 'reports_rejected_total{reason="campaign_unknown"}') >= 1
        assert _value(text, "report_revisions_total") >= 1
        assert _value(text, "report_replays_total") >= 1
        assert "outbox_pending_messages" in text and "outbox_oldest_age_seconds" in text


def _ready(stack: Stack) -> int:
    return httpx.get(stack.reporting.url + "/readyz", timeout=10).status_code


def _readiness(stack: Stack) -> dict[str, Any]:
    return dict(httpx.get(stack.reporting.url + "/readyz", timeout=10).json())


def _metrics(stack: Stack) -> str:
    return httpx.get(stack.reporting.url + "/metrics").text


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
