"""The report consumer: at-least-once delivery in, exactly-once effect out.

Each fetched batch is folded into the aggregates in one database transaction; only after
that commit are the batch's offsets committed. A crash in between redelivers the batch, and
folding skips every report version it already holds, so nothing is counted twice. A message
that cannot be read goes to the dead-letter topic with its error, and the partition moves on.
"""

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from services.aggregator import service
from services.aggregator.hub import ProgressHub
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.settings import AggregatorSettings
from services.broker import connect_producer, ping
from services.database import write_lock
from services.events import (
    AGGREGATOR_DEAD_LETTERS,
    AGGREGATOR_PROGRESS,
    REPORTS,
    DeadLetter,
    ProgressChanged,
    ReportSubmitted,
)

log = structlog.get_logger()
GROUP = "aggregator"


class ReportConsumer:
    """Folds the report topic into the aggregates, batch by batch."""

    def __init__(self, settings: AggregatorSettings, engine: Engine,
                 metrics: AggregatorMetrics,
                 summarise: Callable[[Session, list[ReportSubmitted]], list[ProgressChanged]],
                 hub: ProgressHub) -> None:
        self._settings, self._engine, self._metrics = settings, engine, metrics
        self._summarise, self._hub = summarise, hub
        self._positions: dict[TopicPartition, int] = {}
        self.producer: AIOKafkaProducer | None = None

    async def ready(self) -> None:
        """Readiness check: connected, and the broker answers."""
        if self.producer is None:
            raise ConnectionError("not connected to the broker yet")
        await ping(self.producer)

    async def run(self) -> None:
        """Consume until cancelled; reconnect with back-off when the broker goes away."""
        backoff = 0.2
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._metrics.base.errors.labels("report_consumer").inc()
                log.warning("aggregator.consume_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _consume(self) -> None:
        producer = self.producer = await connect_producer(
            self._settings, (AGGREGATOR_DEAD_LETTERS, AGGREGATOR_PROGRESS))
        consumer = AIOKafkaConsumer(
            REPORTS.name, bootstrap_servers=self._settings.kafka_bootstrap, group_id=GROUP,
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
            session_timeout_ms=self._settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(self._settings.kafka_session_timeout_ms // 5, 100))
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=300, max_records=2000)
                for partition, records in batches.items():
                    await self._handle(consumer, producer, partition, records)
                self._observe_lag(consumer)
        finally:
            self.producer = None
            await consumer.stop()
            await producer.stop()

    async def _handle(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                      partition: TopicPartition, records: list[ConsumerRecord]) -> None:
        started = datetime.now(UTC)
        events, dead = read_records(records)
        applied, changes = await asyncio.to_thread(self._fold, events)
        self._hub.publish(changes)  # the aggregates are durable: readers may see them now
        for change in changes:
            await producer.send_and_wait(
                AGGREGATOR_PROGRESS.name, change.model_dump_json().encode(),
                key=f"{change.campaign}:{change.period}".encode())
        for letter in dead:
            await producer.send_and_wait(AGGREGATOR_DEAD_LETTERS.name, key=letter[0],
                                         value=letter[1].model_dump_json().encode())
            self._metrics.dead_letters.inc()
            log.error("aggregator.dead_letter", offset=letter[1].offset, error=letter[1].error)
        if self._settings.crash_after_write:  # fault injection for the redelivery test
            os._exit(17)
        await consumer.commit({partition: records[-1].offset + 1})
        self._positions[partition] = records[-1].offset + 1
        self._metrics.base.consumed.labels(REPORTS.name).inc(len(records))
        self._metrics.observe_batch(applied, started)

    def _fold(self, events: list[ReportSubmitted]
              ) -> tuple[list[ReportSubmitted], list[ProgressChanged]]:
        """Write a batch durably; then read back the figures it changed."""
        with write_lock(self._engine), Session(self._engine) as session:
            applied = service.fold(session, events)
            session.commit()
            return applied, self._summarise(session, applied) if applied else []

    def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        lag = 0
        for partition in consumer.assignment():
            end, position = consumer.highwater(partition), self._positions.get(partition)
            if end is not None and position is not None:
                lag += max(0, end - position)
        self._metrics.lag.set(lag)


def read_records(records: list[ConsumerRecord]) -> tuple[list[ReportSubmitted],
                                                  list[tuple[bytes | None, DeadLetter]]]:
    events, dead = [], []
    for record in records:
        try:
            events.append(ReportSubmitted.model_validate_json(record.value or b""))
        except ValidationError as exc:
            dead.append((record.key, DeadLetter(
                consumer=GROUP, topic=record.topic, partition=record.partition,
                offset=record.offset, key=record.key.decode(errors="replace") if record.key
                else None, value=(record.value or b"").decode(errors="replace")[:100_000],
                error=str(exc)[:2000], failed_at=datetime.now(UTC))))
    return events, dead
