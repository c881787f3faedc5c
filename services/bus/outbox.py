"""Transactional outbox: events are written with the change that caused them, then relayed.

A service adds the event in the same database transaction as its change (`enqueue`), so a
commit can never lose it; the `Relay` publishes pending rows in order with acks=all and
deletes them only once the broker has acknowledged them. A broker outage only delays.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata
from prometheus_client import Gauge, Histogram
from pydantic import BaseModel
from sqlalchemy import DateTime, Engine, LargeBinary, Table
from sqlmodel import Column, Field, Session, SQLModel

from services.bus.backoff import Backoff
from services.bus.kafka import Probe, connect_producer, ensure_topics, ping
from services.config import ServiceSettings
from services.database import Lease, RawConnection, raw_transaction, write_lock
from services.events import Topic
from services.observability import ServiceMetrics

log = structlog.get_logger()
_PARTITIONER = DefaultPartitioner()
MAX_UNDELETED = 5000  # published rows kept before a delete however recent: ten full batches
LEASE_POLL_SECONDS = 1.0


class OutboxMessage(SQLModel, table=True):
    """An event waiting to be published."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC),
                                 sa_type=DateTime(timezone=True))


OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]


def enqueue(session: Session, topic: Topic, key: str, payload: BaseModel | None) -> None:
    """Add an event to the caller's transaction; `None` is a tombstone."""
    value = payload.model_dump_json().encode() if payload is not None else None
    session.add(OutboxMessage(topic=topic.name, key=key, value=value))


def enqueue_raw(db: RawConnection, topic: Topic, events: list[tuple[str, bytes | None]]) -> None:
    """Add already-serialised events (key, value) to the transaction of `db`, in one
    statement (see database.raw_in for a session's)."""
    created_at = db.timestamp(datetime.now(UTC))
    db.many('INSERT INTO outbox (topic, "key", value, created_at) VALUES (?, ?, ?, ?)',
              [(topic.name, key, value, created_at) for key, value in events])


class Pending(NamedTuple):
    """An outbox row on its way to the broker."""

    id: int
    topic: str
    key: str
    value: bytes | None
    created_at: datetime


class RelayObserver(Protocol):
    """What a relay tells about its work: metrics here, or its parent process (see
    relay_process)."""

    def connected(self) -> None: ...

    def standby(self) -> None: ...

    def failed(self, error: str) -> None: ...

    def pending(self, count: int, oldest_age: float) -> None: ...

    def published(self, topics: dict[str, int], ages: list[float]) -> None: ...


class RelayMetrics:
    """A relay's work as Prometheus metrics on its service's registry."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self.backlog = Gauge("outbox_pending_messages", "Events not yet published.",
                             registry=metrics.registry)
        self.oldest_age = Gauge("outbox_oldest_age_seconds", "Age of the oldest pending event.",
                                registry=metrics.registry)
        self.publish_latency = Histogram(
            "outbox_publish_duration_seconds", "From commit to broker acknowledgement.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300),
            registry=metrics.registry)

    def connected(self) -> None:
        pass  # an in-process relay's readiness asks the broker itself (Relay.ready)

    def standby(self) -> None:
        pass

    def failed(self, error: str) -> None:
        self._metrics.errors.labels("outbox_publish").inc()

    def pending(self, count: int, oldest_age: float) -> None:
        self.backlog.set(count)
        self.oldest_age.set(oldest_age)

    def published(self, topics: dict[str, int], ages: list[float]) -> None:
        for topic, count in topics.items():
            self._metrics.published.labels(topic).inc(count)
        for age in ages:
            self.publish_latency.observe(age)


class Relay:
    """Publishes outbox rows in id order; at least once, never lost."""

    def __init__(self, engine: Engine, settings: ServiceSettings, topics: Sequence[Topic],
                 observer: RelayObserver, *,
                 on_topics_lost: Callable[[], object] | None = None, batch_size: int = 500,
                 idle_poll: float = 1.0, ack_timeout: float = 5.0,
                 delete_every: float = 0.25) -> None:
        self._engine, self._settings, self._topics = engine, settings, topics
        self._observer = observer
        self._on_topics_lost = on_topics_lost
        self._batch_size, self._idle_poll, self._ack_timeout = batch_size, idle_poll, ack_timeout
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked_at = 0.0
        self._republish_due = False  # the topics were made again; the owner's state is not
        self._published: list[Pending] = []  # acknowledged, not yet deleted, in id order
        self._published_since = 0.0  # when the first of them was acknowledged
        # Deleting later and skipping meanwhile (see _advance) keeps each key's order only
        # where rows commit in id order: on SQLite, whose one writer numbers and commits.
        self._delete_every = delete_every if engine.dialect.name == "sqlite" else 0.0
        self._partitions: dict[tuple[str, bytes], tuple[int, int]] = {}  # -> (count, partition)
        self.producer: AIOKafkaProducer | None = None
        self._probe: Probe | None = None  # reads records back, see _check_topics
        # per partition, the first record this relay had acknowledged there (offset, key,
        # value) since it started or last found the topics lost
        self._anchors: dict[TopicPartition, tuple[int, bytes, bytes | None]] = {}

    async def ready(self) -> None:
        """Readiness check: connected, and the broker answers."""
        if self.producer is None:
            raise ConnectionError("not connected to the broker yet")
        await ping(self.producer)

    def stop(self) -> None:
        """Publish what is pending, then let `run` return (on the relay's loop)."""
        self._stopping = True
        self._wakeup.set()

    def wake(self) -> None:
        """Tell the relay that a transaction has just committed events (from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self) -> None:
        """Take the outbox's lease, connect, then relay until cancelled, backing off while
        the broker is unreachable."""
        self._loop = asyncio.get_running_loop()
        lease = Lease(self._engine, "outbox-relay")
        if not await asyncio.to_thread(lease.try_acquire):
            log.warning("outbox.relay_waiting", reason="another process relays this outbox")
            self._observer.standby()  # healthy: the other process publishes this outbox
            while not await asyncio.to_thread(lease.try_acquire):
                await asyncio.sleep(LEASE_POLL_SECONDS)
        try:
            await self._relay()
        finally:
            try:  # else they are published again on the next start
                await asyncio.to_thread(self._forget_published)
            except Exception as exc:
                log.warning("outbox.delete_failed", error=repr(exc))
            await self._disconnect()
            lease.release()

    async def _relay(self) -> None:
        backoff = Backoff()
        while True:
            try:
                if self.producer is None:
                    self.producer = await connect_producer(self._settings)
                    log.info("outbox.connected", after_failures=backoff.failures)
                    self._checked_at = 0.0  # look at the topics before the first send
                    self._observer.connected()
                await self._check_topics()
                sent = await self.drain_once()
                if backoff.failures:
                    log.info("outbox.recovered", after_failures=backoff.failures)
                    self._observer.connected()
                backoff.reset()
            except Exception as exc:
                if self._stopping:  # what is left waits in the outbox for the next start
                    return
                await self._back_off(exc, backoff)
                continue
            if sent < self._batch_size:
                if self._stopping:
                    return
                await self._idle()

    async def _back_off(self, exc: Exception, backoff: Backoff) -> None:
        """Wait longer after each failure; after a few, reconnect with a fresh producer.
        Whatever failed, the topics are looked at again before the next send: the broker
        may have been away, and come back without them."""
        delay = backoff.next()
        self._checked_at = 0.0
        self._observer.failed(f"broker {self._settings.kafka_bootstrap}: {exc!r}")
        log.warning("outbox.publish_failed", error=repr(exc), retry_in=round(delay, 2),
                    failures=backoff.failures)
        if backoff.failures >= 2:
            await self._disconnect()
        await asyncio.sleep(delay)

    async def _disconnect(self) -> None:
        producer, self.producer = self.producer, None
        probe, self._probe = self._probe, None
        if producer is not None:
            await _close(producer)
        if probe is not None:
            await _within(probe.close(), 5)

    async def _check_topics(self) -> None:
        """A broker that lost its storage (Tansu keeps none) acknowledges sends to topics it
        no longer has and drops them; so look at connecting and every few seconds, and when
        a topic is gone, make it again and let the owner publish its state again. (The
        producer never makes topics itself, or the loss would go unseen.)"""
        if time.monotonic() - self._checked_at < 2 or self.producer is None:
            return
        metadata = await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 5)
        self._checked_at = time.monotonic()
        missing = {t.name for t in self._topics} - metadata.topics()
        if missing:
            log.warning("outbox.topics_lost", topics=sorted(missing))
        elif lost := await self._anchors_lost():
            missing = {p.topic for p in lost}
            log.warning("outbox.topics_reset", topics=sorted(missing),
                        reason="; ".join(f"{p.topic}[{p.partition}]: {why}"
                                         for p, why in lost.items()))
        if missing:
            self._anchors.clear()
            await ensure_topics(self._settings, self._topics)
            log.warning("outbox.topics_made_again", topics=sorted(missing))
            self._republish_due = self._on_topics_lost is not None
        if self._republish_due and self._on_topics_lost is not None:
            # due until done: a failure here is retried, though the topics are back by then
            await asyncio.to_thread(self._on_topics_lost)
            self._republish_due = False
            log.warning("outbox.republished", topics=sorted(missing),
                        reason="the broker lost what was published")

    async def _anchors_lost(self) -> dict[TopicPartition, str]:
        """Partitions lost and made again (by anyone: a consumer's metadata request may
        have the broker make a topic) before this relay looked: the first record it wrote
        there, read back at its offset, is gone or another. An end offset alone cannot
        tell: a broker may report it short by a batch, and a first batch sits at 0."""
        if not self._anchors:
            return {}
        if self._probe is None:
            self._probe = Probe(self._settings)
        anchors = dict(self._anchors)
        found = await self._probe.read({p: offset for p, (offset, _, _) in anchors.items()})
        unanswered = [p for p in anchors if p not in found]
        ends = await self._probe.end_offsets(unanswered) if unanswered else {}
        lost: dict[TopicPartition, str] = {}
        for partition, (offset, key, value) in anchors.items():
            there = found.get(partition)
            if there is None:
                if ends.get(partition, 0) <= offset:
                    lost[partition] = f"nothing at {offset} or after it"
            elif there.offset < offset:
                lost[partition] = f"it begins again at {there.offset}, below {offset}"
            elif there.offset > offset:  # compacted away, or past retention
                self._anchors[partition] = (there.offset, there.key or b"", there.value)
            elif (there.key, there.value) != (key, value):
                lost[partition] = f"another record at {offset} than was written there"
        return lost

    async def _idle(self) -> None:
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll)
        except TimeoutError:
            pass

    async def drain_once(self) -> int:
        """Publish the next batch; raise on the first failure. What the broker acknowledged
        is deleted by a later call, several batches at a time (see _advance): call `flush` to
        have it deleted now."""
        rows, backlog, oldest_age = await asyncio.to_thread(self._advance)
        self._observer.pending(backlog, oldest_age)
        if not rows:
            return 0
        futures: list[asyncio.Future[object] | None] = [None] * len(rows)
        # sending itself can wait forever for the metadata of a broker that is gone
        await _within(self._send(rows, futures), self._ack_timeout)
        results = await _settle(futures, self._ack_timeout)
        for row, result in zip(rows, results, strict=True):  # a batch's first row is at
            if isinstance(result, RecordMetadata):                # its offset, the base
                partition = TopicPartition(result.topic, result.partition)
                if partition not in self._anchors:
                    self._anchors[partition] = (result.offset, row.key.encode(), row.value)
        done = _acknowledged_prefix(rows, results)
        if done and not self._published:
            self._published_since = time.monotonic()
        self._published += done
        self._observe(done)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        return len(rows)

    async def _send(self, rows: list[Pending],
                    futures: list[asyncio.Future[object] | None]) -> None:
        """Send the rows as one record batch per partition (more where one fills up): a
        batch costs a fraction of a send() per record. Each row's future is its batch's.
        Records go where send() would put them: the key's murmur2 hash, as Java's client."""
        producer = self.producer
        assert producer is not None
        partitions = {topic: sorted(await producer.partitions_for(topic))
                      for topic in {row.topic for row in rows}}
        filling: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}
        for index, row in enumerate(rows):
            key = row.key.encode()
            target = (row.topic, self._partition(row.topic, key, partitions[row.topic]))
            batch, members = filling.get(target) or filling.setdefault(
                target, (producer.create_batch(), []))
            if batch.append(key=key, value=row.value, timestamp=None) is None:  # full
                await self._submit(batch, target, members, futures)
                batch, members = filling[target] = (producer.create_batch(), [])
                batch.append(key=key, value=row.value, timestamp=None)  # a first always fits
            members.append(index)
        for target, (batch, members) in filling.items():
            await self._submit(batch, target, members, futures)

    async def _submit(self, batch: BatchBuilder, target: tuple[str, int], members: list[int],
                      futures: list[asyncio.Future[object] | None]) -> None:
        assert self.producer is not None
        batch.close()  # else send() may add records of its own
        future = await self.producer.send_batch(batch, target[0], partition=target[1])
        for index in members:
            futures[index] = future

    def _partition(self, topic: str, key: bytes, partitions: list[int]) -> int:
        cached = self._partitions.get((topic, key))
        if cached is None or cached[0] != len(partitions):
            if len(self._partitions) >= 100_000:  # keys are units and the like: rarely
                self._partitions.clear()
            cached = self._partitions[topic, key] = (
                len(partitions), _PARTITIONER(key, partitions, partitions))
        return cached[1]

    async def flush(self) -> None:
        """Publish everything pending and delete it (before stopping, say)."""
        while await self.drain_once():
            pass
        await asyncio.to_thread(self._forget_published)

    def _advance(self) -> tuple[list[Pending], int, float]:
        """Delete the rows published, every so often, then read the next ones due; with the
        backlog and the age of its oldest row.

        On SQLite a delete is a write, and while it lasts the service's own writes wait: so
        published rows are deleted `delete_every` seconds' worth at a time, and meanwhile
        skipped by reading after the last of them. (A relay that stops without deleting them,
        killed, say, publishes them again when it starts: at least once, as ever.)"""
        if self._delete_due():
            self._forget_published()
        published = self._published
        after = published[-1].id if published else 0
        with raw_transaction(self._engine) as db:
            rows = [Pending(id, topic, key, value, db.moment(created_at))
                    for id, topic, key, value, created_at in db.select(
                        'SELECT id, topic, "key", value, created_at FROM outbox WHERE id > ? '
                        "ORDER BY id LIMIT ?", [after, self._batch_size])]
            if len(rows) < self._batch_size:  # the whole backlog is in hand
                count, oldest = len(rows), rows[0].created_at if rows else None
            else:
                [(count, first)] = db.select(
                    "SELECT count(*), min(created_at) FROM outbox WHERE id > ?", [after])
                oldest = db.moment(first)
        return rows, count, _age(oldest) if oldest else 0.0

    def _delete_due(self) -> bool:
        return bool(self._published) and (
            len(self._published) >= MAX_UNDELETED
            or time.monotonic() - self._published_since >= self._delete_every)

    def _forget_published(self) -> None:
        published, self._published = self._published, []
        self._forget(published)

    def _forget(self, rows: list[Pending]) -> None:
        """Delete published rows. A delete lost to a power cut only publishes them again,
        which consumers take in their stride: so it does not wait for the disk."""
        if rows:
            with write_lock(self._engine), raw_transaction(self._engine, synced=False) as db:
                db.many("DELETE FROM outbox WHERE id = ?", [(row.id,) for row in rows])

    def _observe(self, rows: list[Pending]) -> None:
        if rows:
            self._observer.published(dict(Counter(row.topic for row in rows)),
                                     [_age(row.created_at) for row in rows])


async def _settle(futures: list[asyncio.Future[object] | None],
                  timeout: float) -> list[object]:
    """Each row's outcome; a row not sent, or not acknowledged in time, counts as failed."""
    sent = {f for f in futures if f is not None}
    if sent:
        await asyncio.wait(sent, timeout=timeout)
    return [
        TimeoutError("not sent") if f is None
        else (f.exception() or f.result()) if f.done() else TimeoutError("no acknowledgement")
        for f in futures
    ]


async def _within(coroutine: Coroutine[Any, Any, None], timeout: float) -> bool:
    """Run with a time limit; on time-out, cancel without waiting for the cancellation.

    (asyncio.wait_for waits for it, and aiokafka's retry loops can take their time.)
    """
    task = asyncio.ensure_future(coroutine)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        return False
    if task.cancelled():  # aiokafka's stop() of a client whose broker went away, say
        log.warning("outbox.step_failed", error="cancelled within the step")
        return True
    if task.exception() is not None:
        log.warning("outbox.step_failed", error=repr(task.exception()))
    return True


async def _close(producer: AIOKafkaProducer) -> None:
    if not await _within(producer.stop(), 5):  # a broken producer is dropped either way
        log.warning("outbox.producer_close_timed_out")


def _acknowledged_prefix(rows: list[Pending], results: list[object]) -> list[Pending]:
    """Rows up to the first failure: later ones are resent after it, keeping per-key order."""
    done = []
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, BaseException):
            break
        done.append(row)
    return done


def _age(moment: datetime) -> float:
    if moment.tzinfo is None:  # SQLite hands datetimes back naive; they were stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, time.time() - moment.timestamp())
