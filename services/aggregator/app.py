"""Wiring of the aggregator service. Nothing is built at import time."""

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from services.aggregator import report_api, service
from services.aggregator.api import router
from services.aggregator.breaches import BreachWatch
from services.aggregator.handlers import ProgressTail, ReportFold
from services.aggregator.hub import ProgressHub
from services.aggregator.metrics import AggregatorMetrics, CampaignGauges
from services.aggregator.migrations import MIGRATIONS
from services.aggregator.settings import AggregatorSettings
from services.bus.consumer import Consumer, KafkaSource
from services.bus.directory import Directory, follower
from services.bus.relay_process import RelayProcess
from services.database import write_lock
from services.events import AGGREGATOR_DEAD_LETTERS
from services.web.app import Blueprint, Worker, build_app
from services.web.auth import Settling
from services.web.caching import COMPRESS_FROM

log = structlog.get_logger()


def create_app(settings: AggregatorSettings) -> FastAPI:
    """Live campaign progress: the report fold, its aggregates, the feeds and the gauges."""
    directory = Directory()

    def wire(app: FastAPI, engine: Engine) -> list[Worker]:
        state = app.state
        state.directory, state.hub = directory, ProgressHub()
        metrics = AggregatorMetrics(state.metrics)
        state.relay = RelayProcess("services.aggregator.relay", settings, state.metrics)
        state.follower = follower(settings, directory, state.metrics)
        gauges = _GaugeRefresh(engine, directory, CampaignGauges(state.metrics),
                               settings.gauge_refresh_seconds)
        # each version recorded when received or, if later, folded (handlers.arrivals)
        fold = ReportFold(directory, metrics=metrics, clock=lambda: datetime.now(UTC))
        state.consumer = Consumer(
            fold, KafkaSource(settings, fold.topics, group=fold.name,
                              session_timeout_ms=settings.kafka_session_timeout_ms),
            state.metrics, engine=engine, dead_letters=AGGREGATOR_DEAD_LETTERS,
            max_batch=settings.max_batch, wake_relay=state.relay.wake)
        # what any process of the group folded reaches this one's streams and gauges
        tail = ProgressTail(state.hub, on_change=gauges.touch)
        state.tail = Consumer(tail, KafkaSource(settings, tail.topics, group=None,
                                                from_end=True), state.metrics)
        watch = BreachWatch(engine, directory, state.relay, settings.breach_check_seconds)
        return [state.relay, state.follower, state.consumer, state.tail,
                _AfterCatchUp(state.follower.caught_up, watch), gauges]

    return build_app(Blueprint(
        name="aggregator", title="Campaign progress", settings=settings,
        routers=[router, report_api.router], migrations=MIGRATIONS, wire=wire,
        compress_from=COMPRESS_FROM,
        checks={"broker": lambda app: app.state.consumer.ready(),
                "outbox relay": lambda app: app.state.relay.ready(),
                "live stream": lambda app: app.state.tail.ready(),
                "registry": lambda app: app.state.follower.caught_up_ready()},
        identify=lambda app: Settling(directory.caller, directory.settle)))


class _AfterCatchUp:
    """Runs the breach watch once the registry is read: judging with half of it would
    invent breaches."""

    def __init__(self, caught_up: asyncio.Event, watch: BreachWatch) -> None:
        self._caught_up, self._watch = caught_up, watch

    async def run(self) -> None:
        await self._watch.run(self._caught_up)


class _GaugeRefresh:
    """Keeps the campaign gauges current off the event loop: a scrape reads figures already
    computed, never the database; and judges the loudspeaker verdicts left stale. Refreshed
    every `interval` seconds once something was folded (less often when a refresh takes
    long), and at least once a minute (deadlines pass with no event)."""

    def __init__(self, engine: Engine, directory: Directory, gauges: CampaignGauges,
                 interval: float) -> None:
        self._engine, self._directory, self._gauges = engine, directory, gauges
        self._interval, self._dirty, self._refreshed = interval, True, 0.0

    def touch(self) -> None:
        self._dirty = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        took = 0.0
        while True:
            # at most a fifth of the time: a large registry's figures take a while
            await asyncio.sleep(max(self._interval, 4 * took))
            if not (self._dirty or loop.time() - self._refreshed > 60):
                continue
            self._dirty, self._refreshed = False, loop.time()
            try:
                await asyncio.to_thread(self._refresh)
            except Exception as exc:  # the next round tries again
                log.warning("gauges.refresh_failed", error=repr(exc))
            took = loop.time() - self._refreshed

    def _refresh(self) -> None:
        # verdicts of reports folded before their campaign was known, or judged against
        # targets since changed, are judged again first (few: only those)
        with write_lock(self._engine), Session(self._engine) as session:
            if service.rejudge(session, list(self._directory.campaigns.values())):
                session.commit()
        with Session(self._engine) as session:
            self._gauges.refresh(session, self._directory, datetime.now(UTC))
