"""The audit trail end to end: reports entered on a unit's behalf, published on the reports
topic of a real broker, reach a real registry's trail once each, whatever is delivered
twice and across a restart; its own changes are there beside them."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import REPORTS, ReportSubmitted
from tests.rig import ServiceProcess, until

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(broker, service_factory) -> ServiceProcess:
    asyncio.run(ensure_topics(ServiceSettings(port=1, database_url="sqlite://",
                                              kafka_bootstrap=broker.bootstrap,
                                              kafka_idempotence=broker.supports_idempotence),
                              (REPORTS,)))
    return service_factory("registry", kafka_session_timeout_ms="6000")


def report(campaign: str, unit: str, version: int, *, entered: bool = True) -> bytes:
    """A report as the reporting service publishes it, entered by the Department or not."""
    event = ReportSubmitted.model_validate({
        "report_id": f"{unit}-v{version}", "unit_code": unit, "unit_kind": "commune",
        "campaign_code": campaign, "period": "2026-W06", "period_start": "2026-02-02",
        "period_end": "2026-02-08", "version": version,
        "supersedes": f"{unit}-v{version - 1}" if version > 1 else None,
        "received_at": "2026-02-09T02:00:00Z", "deadline": "2026-02-09T10:00:00Z",
        "on_time": True, "activities": [{"kind": "banner", "count": version}],
        "entered_by": {"credential_id": "cred_phong_bao_chi", "label": "Phòng Báo chí",
                       "note": f"Công văn số {version}/UBND",
                       "entered_at": datetime.now(UTC).isoformat()} if entered else None})
    return event.model_dump_json().encode()


def publish(broker: Any, key: str, *values: bytes) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(REPORTS.name, value, key=key.encode())
        finally:
            await producer.stop()

    asyncio.run(send())


def entered(registry: ServiceProcess, campaign: str) -> list[dict[str, Any]]:
    answer = registry.admin().get("/v1/audit", params={"entity": "report"})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["items"] if e["entity_id"].startswith(f"{campaign}/")]


def test_a_report_entered_on_behalf_is_in_the_trail_once_even_published_twice(
        registry, broker) -> None:
    campaign, unit = f"thu-{uuid.uuid4().hex[:6]}", "xa-an-hung"
    first = report(campaign, unit, 1)
    # one key, one partition: once version 2 is in, the copy of version 1 before it was read
    publish(broker, unit, first, first, report(campaign, unit, 2, entered=False),
            report(campaign, unit, 2))
    until(lambda: len(entered(registry, campaign)) >= 2, timeout=60,
          what="the reports entered on the unit's behalf in the audit trail")
    newest, oldest = entered(registry, campaign)
    assert (newest["changes"]["version"], oldest["changes"]["version"]) == (2, 1)
    assert oldest["entity_id"] == f"{campaign}/2026-W06/{unit}"
    assert oldest["action"] == "entered_on_behalf"
    assert oldest["actor"]["id"] == "cred_phong_bao_chi"
    assert oldest["note"] == "Công văn số 1/UBND"

    registry.stop()  # its offsets were committed after the entries: nothing is read twice
    registry.start()
    publish(broker, unit, first, report(campaign, unit, 3))
    until(lambda: len(entered(registry, campaign)) >= 3, timeout=60,
          what="version 3 in the audit trail after a restart")
    assert [e["changes"]["version"] for e in entered(registry, campaign)] == [3, 2, 1]


def test_the_registrys_own_changes_are_in_the_trail(registry) -> None:
    code = f"xa-{uuid.uuid4().hex[:6]}"
    admin = registry.admin()
    admin.post("/v1/units", json={"code": code, "name": f"Xã {code}", "kind": "commune",
                                  "active_from": "2025-07-01"}).raise_for_status()
    admin.patch(f"/v1/units/{code}", json={"name": f"Xã Mới {code}"}).raise_for_status()
    entries = admin.get("/v1/audit", params={"entity": "unit", "entity_id": code}).json()
    assert [e["action"] for e in entries["items"]] == ["updated", "created"]
    assert entries["items"][0]["changes"] == {"name": {"before": f"Xã {code}",
                                                       "after": f"Xã Mới {code}"}}
    seeded = admin.get("/v1/audit", params={"entity": "campaign", "actor": "system"}).json()
    assert {e["entity_id"] for e in seeded["items"]} >= {"dai-hoi-xiv"}
