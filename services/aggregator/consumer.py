"""The report consumer: at-least-once delivery in, exactly-once effect out.

Whatever has arrived, from every partition (up to AGGREGATOR_MAX_BATCH messages), is folded
into the aggregates in one database transaction; only after that commit are the batch's
offsets committed. A crash in between redelivers the batch, and folding skips every report
version it already holds, so nothing is counted twice. Each message's key and version are
read first; the rest only for the newest version of each key, since nothing else in the
batch can count. A message that cannot be read goes to the dead-letter topic with its error,
and the partition moves on."""

import asyncio
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import BaseModel, ConfigDict, Field, ValidationError
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
                batch = await self._next_batch(consumer)
                if batch:
                    await self._handle(consumer, producer, batch)
                self._observe_lag(consumer)
        finally:
            self.producer = None
            await consumer.stop()
            await producer.stop()

    async def _next_batch(self, consumer: AIOKafkaConsumer
                          ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """What has arrived, from every partition, up to the batch cap. Under load the batch
        fills from what is already fetched, so a report revised many times is written once
        per batch; when quiet, one report makes a batch of one without waiting."""
        limit = self._settings.max_batch
        batch = await consumer.getmany(timeout_ms=300, max_records=limit)
        size = sum(map(len, batch.values()))
        while 0 < size < limit:
            more = await consumer.getmany(timeout_ms=0, max_records=limit - size)
            if not more:
                break
            for partition, records in more.items():
                batch.setdefault(partition, []).extend(records)
                size += len(records)
        return batch

    async def _handle(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                      batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        started = datetime.now(UTC)
        records = [record for part in batch.values() for record in part]
        reader = RecordReader()
        with collector_paused():
            arrivals = reader.arrivals(records)
            applied, changes = await asyncio.to_thread(self._fold, arrivals)
        self._hub.publish(changes)  # the aggregates are durable: readers may see them now
        sent = [await producer.send(AGGREGATOR_PROGRESS.name, change.model_dump_json().encode(),
                                    key=f"{change.campaign}:{change.period}".encode())
                for change in changes]
        sent += [await producer.send(AGGREGATOR_DEAD_LETTERS.name, key=key,
                                     value=letter.model_dump_json().encode())
                 for key, letter in reader.dead]
        await asyncio.gather(*sent)  # acknowledged, or the batch is not committed
        for _, letter in reader.dead:
            self._metrics.dead_letters.inc()
            log.error("aggregator.dead_letter", offset=letter.offset, error=letter.error)
        if self._settings.crash_after_write:  # fault injection for the redelivery test
            os._exit(17)
        offsets = {partition: part[-1].offset + 1 for partition, part in batch.items()}
        await consumer.commit(offsets)
        self._positions.update(offsets)
        self._metrics.base.consumed.labels(REPORTS.name).inc(len(records))
        self._metrics.observe_batch(applied, started)

    def _fold(self, arrivals: list[service.Arrival]
              ) -> tuple[list[ReportSubmitted], list[ProgressChanged]]:
        """Write a batch durably; then read back the figures it changed."""
        with write_lock(self._engine), Session(self._engine) as session:
            applied = service.fold(session, arrivals)
            session.commit()
            return applied, self._summarise(session, applied) if applied else []

    def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        lag = 0
        for partition in consumer.assignment():
            end, position = consumer.highwater(partition), self._positions.get(partition)
            if end is not None and position is not None:
                lag += max(0, end - position)
        self._metrics.lag.set(lag)


class _Head(BaseModel):
    """What ordering needs of a report message; the rest is read only if it can count."""

    model_config = ConfigDict(extra="ignore", title="ReportSubmitted")

    campaign_code: str
    period: str
    unit_code: str
    version: int = Field(ge=1)


class RecordReader:
    """Reads a batch of report messages for the fold, and keeps the dead letters: every
    message whose key and version cannot be read, and every one the fold needed in full and
    could not read."""

    def __init__(self) -> None:
        self.dead: list[tuple[bytes | None, DeadLetter]] = []

    def arrivals(self, records: list[ConsumerRecord]) -> list[service.Arrival]:
        found: list[service.Arrival] = []
        for record in records:
            try:
                head = _Head.model_validate_json(record.value or b"")
            except ValidationError as exc:
                self._bury(record, exc)
                continue
            found.append(((head.campaign_code, head.period, head.unit_code), head.version,
                          partial(self._read, record)))
        return found

    def _read(self, record: ConsumerRecord) -> ReportSubmitted | None:
        try:
            return ReportSubmitted.model_validate_json(record.value or b"")
        except ValidationError as exc:
            self._bury(record, exc)
            return None

    def _bury(self, record: ConsumerRecord, error: ValidationError) -> None:
        self.dead.append((record.key, DeadLetter(
            consumer=GROUP, topic=record.topic, partition=record.partition,
            offset=record.offset, key=record.key.decode(errors="replace") if record.key
            else None, value=(record.value or b"").decode(errors="replace")[:100_000],
            error=str(error)[:2000], failed_at=datetime.now(UTC))))


@contextmanager
def collector_paused() -> Iterator[None]:
    """A batch allocates tens of thousands of short-lived objects without cycles; Python's
    cyclic collector would walk them over and over (half the decoding time, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
