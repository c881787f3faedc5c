"""The HTTP surface every service shares: request middleware, health, readiness, metrics."""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.observability import ServiceMetrics
from services.refusals import Refusal
from services.web.errors import error_body, install_error_handlers, refusal_response

log = structlog.get_logger()
CHECK_SECONDS = 3  # a readiness check slower than this fails
CLIENT_CLOSED = 499  # nginx's status for a client that went away before the answer

ReadinessCheck = Callable[[], Awaitable[object]]
Endpoint = Callable[[Request], Awaitable[Response]]


def install(app: FastAPI, metrics: ServiceMetrics, checks: Mapping[str, ReadinessCheck], *,
            direct: Mapping[tuple[str, str], Endpoint] | None = None) -> None:
    """Add error handlers, the request middleware and /healthz, /readyz, /metrics.

    `direct` maps (method, path) of hot routes to endpoints that take only the request. They
    are answered ahead of FastAPI's own layers (error page, telemetry, body limit, routing,
    dependencies), which together cost more than a small endpoint; declare them as routes
    too, for the OpenAPI document."""
    install_error_handlers(app)
    app.add_middleware(_RequestMiddleware, metrics=metrics)
    app.include_router(_probes(metrics, checks))
    if direct:
        build = app.build_middleware_stack  # FastAPI keeps its layers outside all middleware
        app.build_middleware_stack = lambda: _Direct(  # type: ignore[method-assign]
            build(), {key: _RequestMiddleware(_asgi(endpoint), metrics, route=key[1])
                      for key, endpoint in direct.items()})


class _Direct:
    """Hands the direct routes to their own request middleware, the rest to the app."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], ASGIApp]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["method"], scope["path"]), self.app) \
            if scope["type"] == "http" else self.app
        await route(scope, receive, send)


def _asgi(endpoint: Endpoint) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await endpoint(Request(scope, receive))
        except Refusal as exc:
            response = refusal_response(exc)
        await response(scope, receive, send)

    return app


class _RequestMiddleware:
    """Request id, metrics by route template and status, and a 500 for what escapes; a
    client gone before the answer (its body cut short) is counted as 499, not an error.

    Plain ASGI: starlette's BaseHTTPMiddleware costs several times a whole small request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, route: str | None = None) -> None:
        self.app, self.metrics = app, metrics
        self.route = route  # the metrics label when the app serves one route, else its own
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"),
                     b"").decode("ascii", "replace")[:200]
        request_id = given or os.urandom(16).hex()
        status = {"code": 500, "sent": False}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:  # no one is left to answer
            status["code"] = CLIENT_CLOSED
            log.info("http.client_disconnected", path=scope.get("path"))
        except Exception:
            self.metrics.errors.labels("http").inc()
            log.exception("http.unhandled", path=scope.get("path"))
            if not status["sent"]:
                await JSONResponse(error_body("internal", "internal error"), 500)(
                    scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            self._observe(scope, str(status["code"]), time.perf_counter() - started)

    def _observe(self, scope: Scope, status: str, seconds: float) -> None:
        route = self.route if self.route is not None else getattr(
            scope.get("route"), "path", "unmatched")
        key = (route, scope["method"], status)
        series = self._series.get(key)
        if series is None:  # labels() locks and builds its key on every call: look up once
            series = self._series[key] = (self.metrics.http_requests.labels(*key),
                                          self.metrics.http_latency.labels(*key[:2]))
        series[0].inc()
        series[1].observe(seconds)


class Health(BaseModel):
    status: str = Field(description="`ok`.")
    service: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="Each dependency: `ok`, or why it failed.")


def _probes(metrics: ServiceMetrics, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])
    exposition = Exposition(metrics.registry)
    readiness = ReadinessGauges(metrics, checks)

    @router.get("/healthz")
    async def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok", service=metrics.service)

    @router.get("/readyz", response_model=Readiness, responses={503: {
        "model": Readiness, "description": "A dependency does not answer"}})
    async def readyz() -> JSONResponse:
        """Every dependency (broker, database) answers."""
        results = await readiness.check()
        ready = all(r == "ok" for r in results.values())
        return JSONResponse({"ready": ready, "checks": results}, 200 if ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        await readiness.check()  # service_ready: what /readyz would answer now
        return Response(await exposition.text(), media_type=CONTENT_TYPE_LATEST)

    return router


class ReadinessGauges:
    """The readiness checks, run together (each within CHECK_SECONDS), their outcome kept
    in `service_ready` and `service_check_ready{check}` for Prometheus: a process that
    answers scrapes while its database or broker is gone shows as up and not ready."""

    def __init__(self, metrics: ServiceMetrics, checks: Mapping[str, ReadinessCheck]) -> None:
        self._checks = checks
        self._ready = Gauge("service_ready", "1 when every dependency answers (as /readyz "
                            "does), else 0.", registry=metrics.registry)
        self._each = Gauge("service_check_ready", "1 when this dependency answers, else 0.",
                           ["check"], registry=metrics.registry)

    async def check(self) -> dict[str, str]:
        outcomes = await asyncio.gather(*(_run_check(c) for c in self._checks.values()))
        results = dict(zip(self._checks, outcomes, strict=True))
        for name, result in results.items():
            self._each.labels(name).set(result == "ok")
        self._ready.set(all(r == "ok" for r in results.values()))
        return results


class Exposition:
    """The /metrics text, made off the event loop. Scrapes that arrive while one is being
    made share the next one, begun once it is done: concurrent scrapers do not queue one
    behind another, and none is answered with figures from before it asked."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._making: asyncio.Task[bytes] | None = None
        self._next: asyncio.Task[bytes] | None = None

    async def text(self) -> bytes:
        if self._making is None:
            self._making = task = asyncio.ensure_future(self._make())
        else:
            if self._next is None:
                self._next = asyncio.ensure_future(self._after(self._making))
            task = self._next
        return await asyncio.shield(task)

    async def _make(self) -> bytes:
        try:
            return await asyncio.to_thread(generate_latest, self._registry)
        finally:
            self._making = None

    async def _after(self, making: asyncio.Task[bytes]) -> bytes:
        await asyncio.wait({making})
        self._next = None  # scrapes from now on begin or join one made after they asked
        if self._making is None:
            self._making = asyncio.ensure_future(self._make())
        return await asyncio.shield(self._making)


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_SECONDS)
    except Exception as exc:  # any failure means "not ready", with the reason shown
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return "ok"
