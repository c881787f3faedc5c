"""The common body of a service that is joined to the bus but has no duties yet.

Reporting, aggregator and notifier start from this: health, readiness, metrics, a database,
and a FastStream consumer group that follows the registry's unit topic. Their own issues
replace it with their real work.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import structlog
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from services import broker, database, http
from services.config import ServiceSettings
from services.events import UNITS
from services.observability import ServiceMetrics

log = structlog.get_logger()


def create_app(name: str, settings: ServiceSettings) -> FastAPI:
    """A service with probes and metrics that consumes the unit topic."""
    metrics = ServiceMetrics(name)
    bus = broker.make_bus(settings)
    _follow_units(bus, name, metrics)
    app = FastAPI(title=f"{name} service", version="0",
                  lifespan=partial(_lifespan, name=name, settings=settings, bus=bus))
    http.install(app, metrics, {"database": lambda: database.ready(app.state.engine),
                                "broker": partial(_broker_ready, bus)})
    return app


def _follow_units(bus: KafkaBroker, name: str, metrics: ServiceMetrics) -> None:
    @bus.subscriber(UNITS.name, group_id=name, auto_offset_reset="earliest",
                    ack_policy=AckPolicy.MANUAL, session_timeout_ms=6000,
                    heartbeat_interval_ms=1000)
    async def on_unit(message: KafkaMessage) -> None:
        metrics.consumed.labels(UNITS.name).inc()
        await message.ack()


@asynccontextmanager
async def _lifespan(app: FastAPI, *, name: str, settings: ServiceSettings,
                    bus: KafkaBroker) -> AsyncIterator[None]:
    app.state.engine = database.make_engine(settings.database_url)
    starting = asyncio.create_task(broker.start_with_retry(bus))
    log.info("service.started", service=name, port=settings.port)
    try:
        yield
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await bus.stop()
        app.state.engine.dispose()
        log.info("service.stopped", service=name)


async def _broker_ready(bus: KafkaBroker) -> None:
    if not await bus.ping(timeout=2):
        raise ConnectionError("the broker does not answer")
