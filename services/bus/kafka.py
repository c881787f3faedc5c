"""Kafka clients and topics from settings, in one place."""

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaProducer
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
