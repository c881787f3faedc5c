"""Kafka clients and topics from settings, in one place."""

import asyncio
import time
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.config import ServiceSettings
from services.events import Topic

log = structlog.get_logger()


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (acks=all)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{type(settings).__name__.lower()}",
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=2,
        request_timeout_ms=10_000,
    )


async def ensure_topics(settings: ServiceSettings, topics: Iterable[Topic]) -> None:
    """Create the contract's topics with their configs; existing topics are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(t.name, num_partitions=t.partitions,
                     replication_factor=settings.kafka_replication,
                     topic_configs=t.create_configs())
            for t in topics if t.name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
    finally:
        await admin.close()


async def ping(producer: AIOKafkaProducer) -> None:
    """Raise unless the broker answers a metadata request."""
    ok = await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=2)
    if not ok.brokers():
        raise ConnectionError("no broker in metadata")


async def connect_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A started producer (topics are the relay's to check and make: see outbox)."""
    producer = make_producer(settings)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


class Probe:
    """Reads single records back at given offsets, with a consumer of its own (no group):
    how a relay or a consumer tells whether a partition still holds what was written or read
    there, or was lost and made again by a broker that came back without its data."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, offsets: dict[TopicPartition, int], timeout: float = 2.0
                   ) -> dict[TopicPartition, ConsumerRecord[bytes, bytes]]:
        """The first record at or after each offset (from the partition's beginning, when
        the offset is out of range), for the partitions that answer in time."""
        consumer = self._consumer
        if consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap, group_id=None,
                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
                max_partition_fetch_bytes=64 * 1024, request_timeout_ms=5000)
            try:
                await asyncio.wait_for(consumer.start(), timeout)
            except BaseException:
                await asyncio.wait_for(consumer.stop(), 5)
                raise
            self._consumer = consumer
        if not offsets:
            return {}
        consumer.assign(list(offsets))
        for partition, offset in offsets.items():
            consumer.seek(partition, offset)
        found: dict[TopicPartition, ConsumerRecord[bytes, bytes]] = {}
        deadline = time.monotonic() + timeout
        try:
            while len(found) < len(offsets) and time.monotonic() < deadline:
                batch = await consumer.getmany(*[p for p in offsets if p not in found],
                                               timeout_ms=200)
                for partition, records in batch.items():
                    if records and partition not in found:
                        found[partition] = records[0]
        finally:
            # Else its fetcher goes on reading the partitions onwards from the offsets, all
            # the while until the next look: under load, the broker's busiest client.
            consumer.unsubscribe()
        return found

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self._consumer is None:
            await self.read({})
        assert self._consumer is not None
        return dict(await asyncio.wait_for(self._consumer.end_offsets(partitions), 5))

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await asyncio.wait_for(consumer.stop(), 10)
