"""Every service: probes, metrics, logs, settings and a clean stop, as a process."""

import json
import re
import signal
import subprocess
import sys

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.rig import BROKER

pytestmark = pytest.mark.integration

FOLLOWERS = ("aggregator", "notifier")


@pytest.mark.parametrize("name", [*FOLLOWERS, "reporting"])
def test_service_joins_the_bus_and_reports_health(service_factory, registry, name) -> None:
    registry.admin().post("/v1/units", json={"code": "so-vhttdl", "name": "Sở VHTTDL",
                                             "kind": "department"}).raise_for_status()
    process = service_factory(name)
    assert httpx.get(process.url + "/healthz").json() == {"status": "ok", "service": name}
    ready = httpx.get(process.url + "/readyz").json()
    assert ready["ready"] is True
    assert {"database", "broker"} <= set(ready["checks"])
    consumed = _wait_for_metric(process.url, "messages_consumed_total", "registry.units.v1")
    assert consumed >= 1
    _docs_work_offline(process.url)


def _docs_work_offline(url: str) -> None:
    """/docs loads only the service's own assets, and Swagger's "Authorize" has a scheme."""
    page = httpx.get(url + "/docs")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(link.startswith("/docs/assets/") for link in links)
    assert all(httpx.get(url + link).status_code == 200 for link in links)
    schemes = httpx.get(url + "/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer",
                                     "description": "A token issued by the registry."}


def test_the_registry_documents_its_api_offline(registry) -> None:
    _docs_work_offline(registry.url)


def test_metrics_count_requests_by_route_and_status(registry) -> None:
    registry.admin().get("/v1/units/nothing-here")
    registry.client().get("/v1/units")
    text = httpx.get(registry.url + "/metrics").text
    assert 'http_requests_total{method="GET",route="/v1/units/{code}",status="404"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/v1/units",status="401"} 1.0' in text
    assert _wait_for_metric(registry.url, "messages_published_total", "registry.campaigns.v1")


def test_logs_are_json_with_request_and_entity_ids(registry) -> None:
    response = registry.admin().post("/v1/units", json={
        "code": "bao-hai-phong", "name": "Báo Hải Phòng", "kind": "press"},
        headers={"x-request-id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    registry.stop()
    events = [json.loads(line) for line in registry.logs().splitlines() if line.startswith("{")]
    created = [e for e in events if e["event"] == "unit.created"]
    assert created == [created[0]] and created[0]["request_id"] == "req-123"
    assert created[0]["unit"] == "bao-hai-phong"


def test_sigterm_stops_the_service_cleanly(registry) -> None:
    assert registry.stop(signal.SIGTERM) == 0
    stopped = [line for line in map(json.loads, registry.logs().splitlines())
               if line["event"] == "service.stopped"]
    assert [line["service"] for line in stopped] == ["registry"]


def test_bad_setting_stops_start_up_naming_the_variable() -> None:
    result = subprocess.run([sys.executable, "-m", "services.registry"], capture_output=True,
                            text=True, timeout=60, env={"REGISTRY_PORT": "eighty",
                                                        "REGISTRY_ADMIN_TOKEN": "short",
                                                        "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "REGISTRY_PORT" in result.stderr and "REGISTRY_ADMIN_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(BROKER == "tansu", reason="Tansu's DescribeConfigs returns nothing")
def test_registry_topics_are_compacted(registry, broker) -> None:
    import asyncio

    async def describe() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            result = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, "registry.units.v1")])
        finally:
            await admin.close()
        return {entry[0]: entry[1] for entry in result[0].resources[0][4]}

    assert asyncio.run(describe())["cleanup.policy"] == "compact"


def _wait_for_metric(url: str, name: str, topic: str, timeout: float = 20) -> float:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in httpx.get(url + "/metrics").text.splitlines():
            if line.startswith(f'{name}{{topic="{topic}"}}'):
                value = float(line.rsplit(" ", 1)[1])
                if value > 0:
                    return value
        time.sleep(0.2)
    return 0.0
