"""Wiring of the reporting service. Nothing is built at import time."""

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import structlog
from fastapi import FastAPI

from services import database, http
from services.directory import Directory, Follower
from services.observability import ServiceMetrics
from services.relay_process import RelayProcess
from services.reporting.api import router, submit_report
from services.reporting.intake import IntakeWriter
from services.reporting.metrics import IntakeMetrics
from services.reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger()


def create_app(settings: ReportingSettings) -> FastAPI:
    """Report intake: HTTP API, its database, the registry read model and the relay."""
    metrics = ServiceMetrics("reporting")
    # Metrics go to Prometheus (services.observability); FastAPI's OpenTelemetry hooks would
    # only look up their providers on every request to find none.
    app = FastAPI(title="Report intake", version="1",
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  lifespan=partial(_lifespan, settings=settings, metrics=metrics))
    app.state.settings, app.state.directory = settings, Directory()
    app.state.intake_metrics = IntakeMetrics(metrics)
    http.install(app, metrics, {"database": lambda: database.ready(app.state.engine),
                                "broker": lambda: app.state.relay.ready(),
                                "registry": lambda: app.state.follower.ready()},
                 direct={("POST", "/v1/reports"): submit_report})
    app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, *, settings: ReportingSettings,
                    metrics: ServiceMetrics) -> AsyncIterator[None]:
    engine = database.make_engine(settings.database_url)
    await asyncio.to_thread(database.migrate, engine, MIGRATIONS)
    # The relay runs in a process of its own, on the other core (see relay_process).
    relay = RelayProcess("services.reporting.relay", settings, metrics)
    follower = Follower(settings, app.state.directory, metrics)
    writer = IntakeWriter(engine, relay.wake, max_batch=settings.max_batch)
    app.state.engine, app.state.relay, app.state.writer = engine, relay, writer
    app.state.follower = follower
    tasks = [asyncio.create_task(t.run(), name=type(t).__name__)
             for t in (relay, follower, writer)]
    # What start-up built lives as long as the process: keep it out of the collector's full
    # passes, which otherwise walk all of it and stall intake for a tenth of a second.
    gc.freeze()
    # A commit's thread, its disk flush done, waits for the GIL; a 0.5 ms switch interval
    # (Python's default is 5 ms) answers the batch's waiters sooner: p99 at 64 clients fell
    # from about 200 ms to about 70 ms in bench/intake.
    sys.setswitchinterval(0.0005)
    log.info("reporting.started", port=settings.port)
    try:
        yield
    finally:
        for task in reversed(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        engine.dispose()
        log.info("reporting.stopped")
