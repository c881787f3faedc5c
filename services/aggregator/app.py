"""Wiring of the aggregator service. Nothing is built at import time."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import structlog
from fastapi import FastAPI
from sqlmodel import Session

from services import database, http
from services.aggregator import feeds
from services.aggregator.api import router
from services.aggregator.breaches import BreachWatch
from services.aggregator.consumer import ReportConsumer
from services.aggregator.hub import ProgressHub
from services.aggregator.metrics import AggregatorMetrics, CampaignCollector, CampaignFigures
from services.aggregator.settings import AggregatorSettings
from services.directory import Directory, Follower
from services.events import AGGREGATOR_BREACHES
from services.observability import ServiceMetrics
from services.outbox import Relay, RelayMetrics

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger()


def create_app(settings: AggregatorSettings) -> FastAPI:
    """Live campaign progress: the report consumer, its aggregates and the feeds."""
    metrics = ServiceMetrics("aggregator")
    app = FastAPI(title="Campaign progress", version="1",
                  lifespan=partial(_lifespan, settings=settings, metrics=metrics))
    app.state.directory, app.state.hub = Directory(), ProgressHub()
    metrics.registry.register(CampaignCollector(partial(_campaign_figures, app)))
    http.install(app, metrics, {"database": lambda: database.ready(app.state.engine),
                                "broker": lambda: app.state.consumer.ready(),
                                "registry": lambda: app.state.follower.ready()})
    app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, *, settings: AggregatorSettings,
                    metrics: ServiceMetrics) -> AsyncIterator[None]:
    engine = database.make_engine(settings.database_url)
    await asyncio.to_thread(database.migrate, engine, MIGRATIONS)
    app.state.engine = engine
    app.state.follower = Follower(settings, app.state.directory, metrics)
    consumer = app.state.consumer = ReportConsumer(
        settings, engine, AggregatorMetrics(metrics),
        lambda session, applied: feeds.changes(session, app.state.directory, applied),
        app.state.hub)
    relay = app.state.relay = Relay(engine, settings, (AGGREGATOR_BREACHES,),
                                    RelayMetrics(metrics))
    watch = BreachWatch(engine, app.state.directory, relay, settings.breach_check_seconds)
    tasks = [asyncio.create_task(t.run(), name=type(t).__name__)
             for t in (app.state.follower, consumer, relay)]
    tasks.append(asyncio.create_task(watch.run(app.state.follower.caught_up)))
    log.info("aggregator.started", port=settings.port)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        engine.dispose()
        log.info("aggregator.stopped")


def _campaign_figures(app: FastAPI) -> list[CampaignFigures]:
    engine = getattr(app.state, "engine", None)
    if engine is None:
        return []
    with Session(engine) as session:
        return feeds.campaign_figures(session, app.state.directory, datetime.now(UTC))
