"""Wiring of the registry service. Nothing is built at import time."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import structlog
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from services import database, http
from services.events import REGISTRY_TOPICS
from services.observability import ServiceMetrics
from services.outbox import Relay, RelayMetrics
from services.registry import service
from services.registry.api import router
from services.registry.settings import RegistrySettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger()


def create_app(settings: RegistrySettings) -> FastAPI:
    """The registry: HTTP API, database, and the relay that publishes snapshots."""
    metrics = ServiceMetrics("registry")
    app = FastAPI(title="Registry of reporting units", version="1",
                  lifespan=partial(_lifespan, settings=settings, metrics=metrics))
    app.state.settings = settings
    http.install(app, metrics, {"database": lambda: database.ready(app.state.engine),
                                "broker": lambda: app.state.relay.ready()})
    app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, *, settings: RegistrySettings,
                    metrics: ServiceMetrics) -> AsyncIterator[None]:
    engine = database.make_engine(settings.database_url)
    await asyncio.to_thread(database.migrate, engine, MIGRATIONS)
    await asyncio.to_thread(_prepare, engine, settings)
    relay = Relay(engine, settings, REGISTRY_TOPICS, RelayMetrics(metrics),
                  on_topics_lost=partial(_republish, engine))
    app.state.engine, app.state.relay = engine, relay
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    log.info("registry.started", port=settings.port)
    try:
        yield
    finally:
        await _stop_relay(relay, task)
        engine.dispose()
        log.info("registry.stopped")


def _prepare(engine: Engine, settings: RegistrySettings) -> None:
    with Session(engine) as session:
        if settings.seed_folder is not None:
            service.seed_campaigns(session, settings.seed_folder)
        if settings.republish_on_start:
            service.republish_all(session)


def _republish(engine: Engine) -> None:
    with Session(engine) as session:
        service.republish_all(session)


async def _stop_relay(relay: Relay, task: asyncio.Task[None]) -> None:
    """Give the relay a moment to flush what is pending, then stop it."""
    if relay.producer is not None:
        try:
            await asyncio.wait_for(relay.flush(), timeout=5)
        except Exception as exc:  # what is not flushed stays in the outbox for next start
            log.warning("outbox.flush_on_stop_failed", error=repr(exc))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
