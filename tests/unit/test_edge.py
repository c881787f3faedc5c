"""The shared request middleware: a client that goes away mid-request is not a server error."""

import asyncio
import time
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.observability import ServiceMetrics
from services.web.edge import Exposition, _RequestMiddleware, install

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/v1/reports", "headers": [],
                "query_string": b""}


async def reads_its_body(scope: Scope, receive: Receive, send: Send) -> None:
    await Request(scope, receive).body()
    await Response(status_code=201)(scope, receive, send)


def serve(metrics: ServiceMetrics, messages: list[Message],
          app: ASGIApp | None = None) -> list[Message]:
    """One request through the middleware (or `app`): the client sends `messages`; what it
    got back."""
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    async def request() -> None:
        await (app or _RequestMiddleware(reads_its_body, metrics, route="/v1/reports"))(
            dict(SCOPE), receive, send)

    asyncio.run(request())
    return sent


def count(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def logs():
    with structlog.testing.capture_logs() as captured:
        yield captured


def test_a_client_gone_mid_body_is_counted_as_499_and_logged_at_info(logs) -> None:
    metrics = ServiceMetrics("reporting")
    sent = serve(metrics, [{"type": "http.request", "body": b'{"camp', "more_body": True},
                           {"type": "http.disconnect"}])
    assert sent == []  # no one is left to answer
    request = {"route": "/v1/reports", "method": "POST"}
    assert count(metrics, "http_requests_total", **request, status="499") == 1
    assert count(metrics, "http_requests_total", **request, status="500") is None
    assert count(metrics, "errors_total", kind="http") is None
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("http.client_disconnected", "info")]


def test_a_route_reading_its_body_sees_the_client_go_the_same_way(logs) -> None:
    metrics = ServiceMetrics("registry")
    app = FastAPI()
    install(app, metrics, {})

    @app.post("/v1/reports")
    async def upload(request: Request) -> Response:
        await request.body()
        return Response(status_code=201)

    sent = serve(metrics, [{"type": "http.request", "body": b"kind,", "more_body": True},
                           {"type": "http.disconnect"}], app)
    assert sent == []
    assert count(metrics, "http_requests_total", route="/v1/reports", method="POST",
                 status="499") == 1
    assert count(metrics, "errors_total", kind="http") is None
    assert [e["event"] for e in logs] == ["http.client_disconnected"]


def test_a_whole_request_is_counted_by_its_status(logs) -> None:
    metrics = ServiceMetrics("reporting")
    sent = serve(metrics, [{"type": "http.request", "body": b"{}"}])
    assert sent[0]["status"] == 201
    assert count(metrics, "http_requests_total", route="/v1/reports", method="POST",
                 status="201") == 1
    assert logs == []


def test_concurrent_scrapes_share_the_exposition_and_each_sees_what_came_before_it() -> None:
    """Eight scrapes at once: made twice, not eight times (a slow collector counts the
    makes), and each text holds what was counted before that scrape asked."""
    metrics = ServiceMetrics("test")
    made: list[int] = []

    class Slow(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily]:
            made.append(1)
            time.sleep(0.05)
            yield GaugeMetricFamily("test_made", "Exposition makes.", value=len(made))

    metrics.registry.register(Slow())
    exposition = Exposition(metrics.registry)

    async def scrape(after: float) -> tuple[float | None, bytes]:
        await asyncio.sleep(after)
        metrics.errors.labels("scrape").inc()  # counted before this scrape asks
        asked = metrics.registry.get_sample_value("errors_total", {"kind": "scrape"})
        return asked, await exposition.text()

    async def scrapes() -> list[tuple[float | None, bytes]]:
        return await asyncio.gather(scrape(0), *(scrape(0.01) for _ in range(7)))

    answers = asyncio.run(scrapes())
    assert len(made) == 2
    for asked, text in answers:
        line = next(x for x in text.decode().splitlines()
                    if x.startswith('errors_total{kind="scrape"}'))
        assert asked is not None and float(line.rsplit(" ", 1)[1]) >= asked
    assert b"\ntest_made 3.0\n" in asyncio.run(exposition.text())  # a later scrape: made anew


def test_a_scrape_tells_whether_the_service_is_ready_and_which_check_fails() -> None:
    """A process can answer scrapes while its database is gone: Prometheus must see that
    as up and not ready (the ServiceNotReady alert), with the failing check named."""
    database_up = True

    async def database() -> None:
        if not database_up:
            raise ConnectionError("database is gone")

    async def broker() -> None:
        return None

    metrics = ServiceMetrics("registry")
    app = FastAPI()
    install(app, metrics, {"database": database, "broker": broker})
    with TestClient(app) as client:
        client.get("/metrics")
        assert count(metrics, "service_ready") == 1
        database_up = False
        text = client.get("/metrics").text
        assert "service_ready 0.0" in text
        assert count(metrics, "service_check_ready", check="database") == 0
        assert count(metrics, "service_check_ready", check="broker") == 1
        assert client.get("/readyz").status_code == 503
        database_up = True
        assert client.get("/readyz").json() == {"ready": True, "checks": {
            "database": "ok", "broker": "ok"}}
        assert count(metrics, "service_ready") == 1
