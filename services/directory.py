"""What a service knows of the registry: units, credentials and campaigns, in memory.

Rebuilt at every start by reading the registry's compacted topics from the beginning, then
kept current by following them, like a Kafka Streams global table. No service calls the
registry; a unit created, retired or a token revoked there shows here within moments.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from services.config import ServiceSettings
from services.events import (
    CAMPAIGNS,
    CREDENTIALS,
    UNITS,
    CampaignSnapshot,
    CredentialSnapshot,
    UnitSnapshot,
)
from services.observability import ServiceMetrics

log = structlog.get_logger()
FOLLOWED = (UNITS, CAMPAIGNS, CREDENTIALS)


@dataclass
class Directory:
    """The latest snapshot of each unit, campaign and credential."""

    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    campaigns: dict[str, CampaignSnapshot] = field(default_factory=dict)
    credentials: dict[str, CredentialSnapshot] = field(default_factory=dict)  # by token hash
    _hash_of: dict[str, str] = field(default_factory=dict)  # credential id -> token hash

    def credential(self, token: str | None) -> CredentialSnapshot | None:
        """The valid credential a bearer token belongs to, if any."""
        if not token:
            return None
        found = self.credentials.get(hashlib.sha256(token.encode()).hexdigest())
        return found if found is not None and found.revoked_at is None else None

    def apply(self, topic: str, key: str, value: bytes | None) -> None:
        """Fold one record in; older revisions never replace newer ones."""
        if topic == UNITS.name:
            _fold(self.units, key,
                  None if value is None else UnitSnapshot.model_validate_json(value))
        elif topic == CAMPAIGNS.name:
            _fold(self.campaigns, key,
                  None if value is None else CampaignSnapshot.model_validate_json(value))
        elif topic == CREDENTIALS.name:
            self._credential(key, value)

    def _credential(self, key: str, value: bytes | None) -> None:
        old = self._hash_of.pop(key, None)
        if old is not None:
            self.credentials.pop(old, None)
        if value is not None:
            snapshot = CredentialSnapshot.model_validate_json(value)
            self.credentials[snapshot.token_sha256] = snapshot
            self._hash_of[key] = snapshot.token_sha256


def _fold(table: dict, key: str, snapshot: UnitSnapshot | CampaignSnapshot | None) -> None:
    if snapshot is None:
        table.pop(key, None)
    elif key not in table or table[key].revision <= snapshot.revision:
        table[key] = snapshot


class Follower:
    """Reads the registry topics into a Directory and keeps following them."""

    def __init__(self, settings: ServiceSettings, directory: Directory,
                 metrics: ServiceMetrics) -> None:
        self._settings, self.directory, self._metrics = settings, directory, metrics
        self.caught_up = asyncio.Event()

    async def ready(self) -> None:
        """Readiness check: the registry topics have been read to their end once."""
        if not self.caught_up.is_set():
            raise RuntimeError("still reading the registry topics")

    async def run(self) -> None:
        """Follow until cancelled; reconnect with back-off when the broker goes away."""
        backoff = 0.2
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._metrics.errors.labels("directory_follow").inc()
                log.warning("directory.follow_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._settings.kafka_bootstrap,
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=100)
        await consumer.start()
        try:
            partitions = await self._assign(consumer)
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    self._apply(records)
                if not self.caught_up.is_set() and await _reached(consumer, ends):
                    self.caught_up.set()
                    log.info("directory.caught_up", units=len(self.directory.units),
                             campaigns=len(self.directory.campaigns))
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            metadata = await consumer._client.fetch_all_metadata()
            found = {t.name: metadata.partitions_for_topic(t.name) for t in FOLLOWED}
            if all(found.values()):
                partitions = [TopicPartition(n, p) for n, ps in found.items() for p in ps or ()]
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
                return partitions
            await asyncio.sleep(0.5)  # the registry has not created its topics yet

    def _apply(self, records: list[ConsumerRecord]) -> None:
        for record in records:
            try:
                key = record.key.decode() if record.key else ""
                self.directory.apply(record.topic, key, record.value)
                self._metrics.consumed.labels(record.topic).inc()
            except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._metrics.errors.labels("directory_bad_record").inc()
                log.error("directory.bad_record", topic=record.topic, offset=record.offset,
                          error=str(exc)[:300])


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True
