"""The outbox relay against the leg's real broker and database: order, partitions, deletes."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel
from sqlalchemy import Engine

from services import database
from services.bus.kafka import connect_producer, ensure_topics
from services.bus.outbox import Relay, RelayMetrics, enqueue_raw
from services.config import ServiceSettings
from services.events import Topic
from services.observability import ServiceMetrics

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"
KEYS = [f"xa-{n:02d}" for n in range(7)]


@dataclass
class Outbox:
    """A fresh topic and a migrated database on the leg's broker and backend."""

    topic: Topic
    engine: Engine
    settings: ServiceSettings
    metrics: ServiceMetrics

    def relay(self, **options: Any) -> Relay:
        return Relay(self.engine, self.settings, (self.topic,), RelayMetrics(self.metrics),
                     **options)

    def add(self, rows: list[tuple[str, str]]) -> None:
        """Commit (key, JSON value) rows to the outbox, in one transaction."""
        with database.write_lock(self.engine), database.raw_transaction(self.engine) as db:
            enqueue_raw(db, self.topic, [(k, v.encode()) for k, v in rows])

    def left(self) -> int:
        with database.raw_transaction(self.engine) as db:
            [(count,)] = db.select("SELECT count(*) FROM outbox")
            return int(count)

    def published(self) -> float | None:
        return self.metrics.registry.get_sample_value("messages_published_total",
                                                      {"topic": self.topic.name})


@pytest.fixture
def outbox(broker, database_url) -> Iterator[Outbox]:
    engine = database.make_engine(database_url("outbox"))
    database.migrate(engine, MIGRATIONS)
    yield Outbox(Topic(f"test.outbox.{uuid.uuid4().hex[:8]}", BaseModel, "unit", "test",
                       partitions=3), engine,
                 ServiceSettings(port=1, database_url="unused", kafka_bootstrap=broker.bootstrap,
                                 kafka_idempotence=broker.supports_idempotence),
                 ServiceMetrics("outbox_test"))
    engine.dispose()


def test_rows_reach_the_partition_of_their_key_in_order_and_leave_the_outbox(
        broker, outbox) -> None:
    # 3 commits of 400 rows, one over the 16 KB record-batch size, several batches per key
    rows = [(KEYS[n % len(KEYS)], f'{{"n": {n}, "pad": "{"x" * (20_000 if n == 5 else 300)}"}}')
            for n in range(1200)]
    for start in range(0, len(rows), 400):
        outbox.add(rows[start:start + 400])

    relay = outbox.relay()
    asyncio.run(_relay_all(relay, outbox.settings, outbox.topic))
    records = asyncio.run(_consume(broker.bootstrap, outbox.topic.name, len(rows)))

    assert outbox.published() == len(rows)
    assert len(records) == len(rows)
    for key in KEYS:
        mine = [(partition, number) for k, partition, number in records if k == key]
        expected = DefaultPartitioner()(key.encode(), [0, 1, 2], [0, 1, 2])
        assert {partition for partition, _ in mine} == {expected}, key  # as send() would
        assert [number for _, number in mine] == [
            n for n, (k, _) in enumerate(rows) if k == key]  # in the order committed
    assert outbox.left() == 0
    assert outbox.metrics.registry.get_sample_value("outbox_pending_messages") == 0


async def _relay_all(relay: Relay, settings: ServiceSettings, topic: Topic) -> None:
    await ensure_topics(settings, (topic,))
    relay.producer = await connect_producer(settings)
    try:
        await relay.flush()  # publishes every row, and deletes them
    finally:
        await relay.producer.stop()


async def _consume(bootstrap: str, topic: str, count: int) -> list[tuple[str, int, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        await consumer.seek_to_beginning()
        found: list[tuple[str, int, int]] = []
        for _ in range(150):
            if len(found) >= count:
                break
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                found += [(m.key.decode(), m.partition, json.loads(m.value)["n"])
                          for m in messages]
        return found
    finally:
        await consumer.stop()


def test_published_rows_are_not_sent_twice_while_they_wait_to_be_deleted(
        broker, outbox) -> None:
    relay = outbox.relay(delete_every=60)

    def numbered(numbers: range) -> list[tuple[str, str]]:
        return [("xa-00", f'{{"n": {n}}}') for n in numbers]

    async def steps() -> list[int]:
        await ensure_topics(outbox.settings, (outbox.topic,))
        relay.producer = await connect_producer(outbox.settings)
        try:
            outbox.add(numbered(range(3)))
            sent = [await relay.drain_once()]
            outbox.add(numbered(range(3, 5)))
            sent += [await relay.drain_once(), await relay.drain_once()]
            kept = outbox.left()
            await relay.flush()
            return [*sent, kept]
        finally:
            await relay.producer.stop()

    *sent, kept = asyncio.run(steps())
    assert sent == [3, 2, 0]  # each row once, though none was deleted in between...
    # ...on SQLite, which deletes a while later; elsewhere they go at once (see Relay._advance)
    assert kept == (5 if outbox.engine.dialect.name == "sqlite" else 0)
    assert outbox.left() == 0  # flush deletes what was published
    assert [n for _, _, n in asyncio.run(_consume(broker.bootstrap, outbox.topic.name, 5))] == [
        0, 1, 2, 3, 4]
    assert outbox.published() == 5
