"""The one way to consume Kafka: a runner that hands batches to a handler.

A handler is a small object (`Handler`): the topics it reads and a `handle(session, batch)`
that decides. The runner does the rest, the same way for every consumer:

- it takes whatever has arrived, from every partition, up to a cap, as one `Batch`;
- it runs the handler's writes, and every event the handler emits (`batch.emit`) or sets
  aside as unreadable (`batch.bury`, a dead letter with its error), in one database
  transaction: emitted events go through the service's outbox, so none is lost or
  published for a batch that did not commit;
- only after that commit does it commit the batch's offsets; a crash in between redelivers
  the batch, which an idempotent handler absorbs;
- it backs off with jitter while the broker is away, says so in its log and readiness, and
  reconnects; a partition whose topic was lost and made again (a broker that came back
  without its data: Tansu keeps none) starts again from its beginning, whether the new
  partition ends before the position or was refilled past it (see KafkaSource.find_lost);
- it exports lag, batch sizes, batch latency and dead letters.

Sources: a consumer group with committed offsets (`KafkaSource(group=...)`), every
partition from the beginning without a group, for read models and rebuilds
(`KafkaSource(group=None)`) or from its end (`from_end=True`, a tail), or messages in
memory for the fast tests (`MemorySource`).
A read "to the end" ends when a fetch at the end returns nothing, not at a reported end
offset alone, which a broker may under-report.

aiokafka is used beneath rather than FastStream's batch subscriber: see README, "Why the
runner sits on aiokafka".
"""

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from services.bus.backoff import Backoff
from services.bus.kafka import Probe
from services.bus.outbox import enqueue_raw
from services.config import ServiceSettings
from services.database import hold_partitions, raw_in, write_lock
from services.events import DeadLetter, Topic
from services.observability import ServiceMetrics

log = structlog.get_logger()
Message: TypeAlias = ConsumerRecord[bytes, bytes]  # topic, partition, offset, key, value
Offsets = dict[tuple[str, int], int]  # (topic, partition) -> the next offset to read
T = TypeVar("T")
REWIND_CHECK_SECONDS = 2.0
# a look at the ends or a read-back that takes longer is a broker gone: the runner reconnects
# rather than wait out the client's own request timeout (10 s) with its loop held, while its
# readiness, not knowing yet, would still say it is following
CHECK_TIMEOUT_SECONDS = 4.0
STALLED_SECONDS = 2.0  # a look held this long: readiness says the runner is waiting
TOP_UP_MS = 50  # at most this long for a fetch under way, while the broker holds more


class Batch:
    """The messages a handler gets at once, and what it emits and sets aside."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.emitted: dict[str, tuple[Topic, list[tuple[str, bytes | None]]]] = {}
        self.dead: list[tuple[Message, str]] = []

    def emit(self, topic: Topic, key: str, payload: BaseModel | None) -> None:
        """Publish an event if, and only if, this batch's transaction commits."""
        value = None if payload is None else payload.model_dump_json().encode()
        self.emitted.setdefault(topic.name, (topic, []))[1].append((key, value))

    def bury(self, message: Message, error: str) -> None:
        """Set an unreadable message aside, with its error; the partition moves on."""
        self.dead.append((message, error))

    def offsets(self) -> Offsets:
        """Where each partition resumes once this batch is done."""
        found: Offsets = {}
        for message in self.messages:
            found[message.topic, message.partition] = message.offset + 1
        return found


class Handler(Protocol):
    """A consumer's decisions: typed events in, service calls, events out."""

    name: str  # the consumer group, and the consumer's name in metrics and dead letters
    @property
    def topics(self) -> Sequence[Topic]: ...

    def handle(self, session: Session | None, batch: Batch) -> object:
        """Decide on a batch inside its transaction (`session` is None without a
        database); never commits. What it returns goes to `committed`."""
        ...

    def committed(self, result: Any) -> None:
        """After the batch's transaction committed (on the event loop): tell whoever waits."""
        ...


class Source(Protocol):
    """Where batches come from."""

    following: bool  # every partition from the beginning, no group

    async def open(self) -> None: ...

    async def fetch(self, limit: int) -> list[Message]: ...

    async def commit(self, offsets: Offsets) -> None: ...

    async def at_end(self) -> bool: ...

    async def rewind_if_lost(self) -> dict[tuple[str, int], str]: ...

    def lag(self) -> int | None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class Consumer:
    """Runs one handler on one source, batch after batch, until cancelled."""

    def __init__(self, handler: Handler, source: Source, metrics: ServiceMetrics, *,
                 engine: Engine | None = None, dead_letters: Topic | None = None,
                 max_batch: int = 10_000, wake_relay: Callable[[], None] | None = None,
                 on_batch: Callable[[Sequence[Message]], None] | None = None) -> None:
        if dead_letters is not None and engine is None:
            raise ValueError("dead letters go through the outbox: a database is needed")
        self._handler, self._source, self._metrics = handler, source, metrics
        self._engine, self._dead_letters, self._max_batch = engine, dead_letters, max_batch
        self._wake_relay, self._on_batch = wake_relay, on_batch
        self.caught_up = asyncio.Event()  # read to the end once (a following source)
        self._connected, self._trouble = False, "not connected to the broker yet"
        self._checked_at = 0.0
        self._checking_since: float | None = None  # a look at the broker under way
        # a following source read to its end since it last connected: after a reconnect
        # it reads every partition again from the beginning
        self._current = False
        self.dead_letter_count = 0
        name = handler.name
        self._lag = metrics.consumer_lag.labels(name)
        self._sizes = metrics.consumer_batch.labels(name)
        self._latency = metrics.consumer_latency.labels(name)
        self._buried = metrics.dead_letters.labels(name)

    async def ready(self) -> None:
        """Readiness check: connected, not held by a look at the broker, and the broker
        answers."""
        self._check_live()
        await self._source.ping()

    async def caught_up_ready(self) -> None:
        """Readiness check of a read model: read to the end once, and still following: not
        cut off from the broker (what it knows may be going stale), nor held by a look at
        it for more than STALLED_SECONDS, and, after a reconnect or a rewind, read to the end
        again (until then a change made meanwhile, a revocation say, may not count yet).
        The service's broker check is the one that tells at once that the broker is gone."""
        if not self.caught_up.is_set():
            raise RuntimeError(f"{self._handler.name}: still reading its topics to the end")
        self._check_live()
        if not self._current:
            raise RuntimeError(f"{self._handler.name}: reconnected, reading its topics again "
                               "to the end")

    def _check_live(self) -> None:
        if not self._connected:
            raise ConnectionError(self._trouble)
        since = self._checking_since
        if since is not None and (held := time.monotonic() - since) > STALLED_SECONDS:
            raise ConnectionError(f"{self._handler.name}: the broker has not answered for "
                                  f"{held:.1f} s")

    async def run(self) -> None:
        """Consume until cancelled; reconnect with back-off when the broker goes away. The
        failure is told (log, readiness) before the old connection is closed, which can
        take a while with the broker away."""
        backoff = Backoff()
        try:
            while True:
                try:
                    await self._consume(until_end=False, backoff=backoff)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = backoff.next()
                    self._connected = False
                    self._trouble = f"{self._handler.name}: broker unreachable: {exc!r}"[:300]
                    self._metrics.errors.labels(f"consumer_{self._handler.name}").inc()
                    log.warning("consumer.failed", consumer=self._handler.name,
                                error=repr(exc), failures=backoff.failures,
                                retry_in=round(delay, 2), action="reconnect")
                    await self._source.close()
                    await asyncio.sleep(delay)
        finally:
            self._connected = False
            await self._source.close()

    async def drain(self) -> None:
        """Consume until a fetch at the end of every partition returns nothing (a rebuild)."""
        try:
            await self._consume(until_end=True, backoff=Backoff())
        finally:
            await self._source.close()

    async def _consume(self, *, until_end: bool, backoff: Backoff) -> None:
        """Open the source and consume; the caller closes it."""
        await self._source.open()
        try:
            self._connected, self._current = True, False
            log.info("consumer.connected", consumer=self._handler.name,
                     after_failures=backoff.failures)
            following: asyncio.Task[list[Message]] | None = None
            try:
                while True:
                    messages = await (following or self._source.fetch(self._max_batch))
                    following = None
                    backoff.reset()
                    if messages:
                        # the next batch is fetched (and decoded) while this one is handled:
                        # its writes wait on the database with the interpreter let go
                        following = asyncio.ensure_future(self._source.fetch(self._max_batch))
                        await self._process(Batch(messages))
                    elif await self._idle(until_end) and until_end:
                        return
                    lag = self._source.lag()
                    if lag is not None:
                        self._lag.set(lag)
            finally:
                if following is not None:  # the fetch under way: stopped, and its end seen
                    following.cancel()
                    await asyncio.gather(following, return_exceptions=True)
        finally:
            self._connected = False

    async def _idle(self, until_end: bool) -> bool:
        """Nothing arrived: check every few seconds for partitions lost and made again, and,
        until a following source has been read to the end since it connected (or when
        draining), whether this is the end: once there, it only follows."""
        if time.monotonic() - self._checked_at > REWIND_CHECK_SECONDS:
            self._checked_at = time.monotonic()
            rewound = await self._look(self._source.rewind_if_lost(), "for lost partitions")
            if rewound:
                log.warning("consumer.rewound", consumer=self._handler.name,
                            partitions={f"{t}/{p}": why for (t, p), why in rewound.items()},
                            action="read again from the beginning",
                            reason="the broker lost the topic and it was made again")
                self._current = False
                return False
        if not self._source.following:
            return False
        if self._current and not until_end:
            return True  # read to the end since it connected: following needs no more looks
        if not await self._look(self._source.at_end(), "at the ends"):
            return False
        self._current = True
        if not self.caught_up.is_set():
            self.caught_up.set()
            log.info("consumer.caught_up", consumer=self._handler.name)
        return True

    async def _look(self, call: Awaitable[T], what: str) -> T:
        """A look at the broker, bounded (see CHECK_TIMEOUT_SECONDS); while it is held,
        readiness says so."""
        self._checking_since = time.monotonic()
        try:
            return await asyncio.wait_for(call, CHECK_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise ConnectionError(f"the broker did not answer a look {what} within "
                                  f"{CHECK_TIMEOUT_SECONDS:.0f} s") from exc
        finally:
            self._checking_since = None

    async def _process(self, batch: Batch) -> None:
        started = time.perf_counter()
        if self._engine is None:
            result = self._handler.handle(None, batch)
            self._log_dead(batch)
        else:
            result = await asyncio.to_thread(self._transaction, batch)
        try:
            await self._source.commit(batch.offsets())
        except (CommitFailedError, IllegalGenerationError, RebalanceInProgressError) as exc:
            # a rebalance gave some of these partitions to another process of the group: it
            # reads them again from the last committed offsets and skips what this one folded
            self._metrics.errors.labels(f"consumer_{self._handler.name}_commit_refused").inc()
            log.warning("consumer.commit_refused", consumer=self._handler.name,
                        partitions=_spans(batch.messages), error=repr(exc)[:300],
                        action="the new owner redelivers them; the fold skips what it holds")
        self._handler.committed(result)
        if self._wake_relay is not None and (batch.emitted or batch.dead):
            self._wake_relay()
        for topic, count in Counter(m.topic for m in batch.messages).items():
            self._metrics.consumed.labels(topic).inc(count)
        self._sizes.observe(len(batch.messages))
        self._latency.observe(time.perf_counter() - started)
        if self._on_batch is not None:
            self._on_batch(batch.messages)

    def _transaction(self, batch: Batch) -> object:
        """The handler's writes, its events and its dead letters: one commit, with the
        batch's partitions held for this group meanwhile (a group's share of the topics)."""
        assert self._engine is not None
        with write_lock(self._engine), Session(self._engine) as session:
            if not self._source.following:
                hold_partitions(session, self._handler.name,
                                ((m.topic, m.partition) for m in batch.messages))
            held_from = time.time()
            result = self._handler.handle(session, batch)
            db = raw_in(session)
            for topic, events in batch.emitted.values():
                enqueue_raw(db, topic, events)
            if batch.dead and self._dead_letters is not None:
                enqueue_raw(db, self._dead_letters, [
                    (message.key.decode(errors="replace") if message.key else "",
                     self._letter(message, error).model_dump_json().encode())
                    for message, error in batch.dead])
            session.commit()
        if logging.getLogger().isEnabledFor(logging.DEBUG):  # what a scale-out test reads
            log.debug("consumer.batch_committed", consumer=self._handler.name,
                      partitions=_spans(batch.messages), held_from=held_from,
                      held_to=time.time())
        self._log_dead(batch)
        return result

    def _letter(self, message: Message, error: str) -> DeadLetter:
        return DeadLetter(
            consumer=self._handler.name, topic=message.topic, partition=message.partition,
            offset=message.offset, key=message.key.decode(errors="replace")
            if message.key else None,
            value=(message.value or b"").decode(errors="replace")[:100_000],
            error=error[:2000], failed_at=datetime.now(UTC))

    def _log_dead(self, batch: Batch) -> None:
        for message, error in batch.dead:
            self._buried.inc()
            self.dead_letter_count += 1
            log.error("consumer.dead_letter", consumer=self._handler.name,
                      topic=message.topic, partition=message.partition,
                      offset=message.offset, error=error[:300])


def _spans(messages: Sequence[Message]) -> dict[str, list[int]]:
    """Each partition's first and last offset in a batch, as `topic/partition`."""
    spans: dict[str, list[int]] = {}
    for message in messages:
        span = spans.setdefault(f"{message.topic}/{message.partition}",
                                [message.offset, message.offset])
        span[0], span[1] = min(span[0], message.offset), max(span[1], message.offset)
    return spans


class KafkaSource:
    """Messages from Kafka: a consumer group's share of the topics (committed offsets), or
    with `group=None` every partition from its beginning (a read model, a rebuild)."""

    def __init__(self, settings: ServiceSettings, topics: Sequence[Topic], *,
                 group: str | None, session_timeout_ms: int = 10_000,
                 from_end: bool = False) -> None:
        self._settings, self._topics, self._group = settings, topics, group
        self._from_end = from_end  # without a group: only what arrives from now on (a tail)
        self._session_timeout_ms = session_timeout_ms
        self.following = group is None
        self._consumer: AIOKafkaConsumer | None = None
        self._probe: Probe | None = None  # reads records back, see find_lost
        self._empty_fetches = 0
        self._positions: dict[TopicPartition, int] = {}  # after the last message fetched
        # per partition, the first message fetched since opening or rewinding: what was
        # read there is known to come from the partition this source has been reading
        self._anchors: dict[TopicPartition, Message] = {}

    async def open(self) -> None:
        self._positions, self._anchors, self._empty_fetches = {}, {}, 0
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap, group_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 * 1024 * 1024,  # a backlog fills a batch in fewer trips
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(self._session_timeout_ms // 5, 100),
            request_timeout_ms=10_000)
        await consumer.start()
        if self._group is not None:
            consumer.subscribe([t.name for t in self._topics])
        else:
            await self._assign_all(consumer)

    async def _assign_all(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            metadata = await consumer._client.fetch_all_metadata()
            found = {t.name: metadata.partitions_for_topic(t.name) for t in self._topics}
            if all(found.values()):
                partitions = [TopicPartition(n, p) for n, ps in found.items() for p in ps or ()]
                consumer.assign(partitions)
                if self._from_end:
                    await consumer.seek_to_end(*partitions)
                else:
                    await consumer.seek_to_beginning(*partitions)
                return
            await asyncio.sleep(0.5)  # their owner has not created them yet

    async def fetch(self, limit: int) -> list[Message]:
        """What has arrived, from every partition, up to `limit`. When quiet, one message
        makes a batch of one; with a backlog (the broker has more than was read), the batch
        waits for the fetches under way, up to TOP_UP_MS each, to fill up to `limit`: the
        fold's work grows with the keys a batch touches, not with its messages."""
        consumer = self._live()
        batch = await consumer.getmany(timeout_ms=300, max_records=limit)
        messages = self._took(batch)
        while 0 < len(messages) < limit:
            wait = TOP_UP_MS if self.lag() else 0
            more = await consumer.getmany(timeout_ms=wait, max_records=limit - len(messages))
            if not more:
                break
            messages += self._took(more)
        self._empty_fetches = 0 if messages else self._empty_fetches + 1
        return messages

    def _took(self, fetched: dict[TopicPartition, list[Message]]) -> list[Message]:
        """Messages fetched: where each partition is now, and its first since opening."""
        messages = [m for part in fetched.values() for m in part]
        positions, anchors = self._positions, self._anchors
        for message in messages:
            partition = TopicPartition(message.topic, message.partition)
            positions[partition] = message.offset + 1
            if partition not in anchors:
                anchors[partition] = message
        return messages

    async def commit(self, offsets: Offsets) -> None:
        if self._group is not None and offsets:
            await self._live().commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})

    async def at_end(self) -> bool:
        """Two fetches in a row brought nothing and every position has reached the end the
        broker reports (which alone is not trusted: a broker may report it short)."""
        if self._empty_fetches < 2:
            return False
        consumer = self._live()
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        for partition in partitions:
            if await consumer.position(partition) < ends[partition]:
                return False
        return True

    async def rewind_if_lost(self) -> dict[tuple[str, int], str]:
        """Partitions whose topic was lost and made again start again from their beginning;
        returns them, each with what gave it away (see find_lost)."""
        lost = await self.find_lost()
        if lost:
            await self._live().seek_to_beginning(*lost)
            for partition in lost:
                self._positions.pop(partition, None)
                self._anchors.pop(partition, None)
        return {(p.topic, p.partition): why for p, why in lost.items()}

    async def find_lost(self) -> dict[TopicPartition, str]:
        """The assigned partitions that are no longer the ones this source has been reading:
        a broker that lost its storage (Tansu keeps none) has the topic made again from
        offset 0, and refilled by its producer's republish.

        A position beyond the partition's end gives it away, but only while the new
        partition is short: refilled up to or past the position before this looks, and
        read on from there, it would pass for the old one, and what it holds below the
        position would be missed. So a record read earlier, the first one fetched since
        opening (its anchor), is read back at its offset (by a consumer of its own: this
        one's fetches stay as they are) and compared: another record there (another
        timestamp, key or value), or a partition that now begins below it, is a new topic.
        A new topic is dense, so a record gone from a partition that holds later ones is
        compaction or retention at work, no sign: the later one becomes the anchor.
        (Kafka's topic ids would tell directly, but aiokafka 0.14 speaks Metadata v5 at
        most, which carries none.)"""
        consumer = self._live()
        partitions = list(consumer.assignment())
        if not partitions:
            return {}
        ends = await consumer.end_offsets(partitions)
        positions = {p: await consumer.position(p) for p in partitions}
        anchors = {p: self._anchors[p] for p in partitions if p in self._anchors}
        found = await self._read_back(anchors) if anchors else {}
        lost: dict[TopicPartition, str] = {}
        for partition in partitions:
            position, end = positions[partition], ends[partition]
            anchor, there = anchors.get(partition), found.get(partition)
            if anchor is not None and there is not None:
                if there.offset < anchor.offset:
                    lost[partition] = (f"it begins again at {there.offset}, below a record "
                                       f"read at {anchor.offset}")
                elif there.offset > anchor.offset:  # compacted away, or past retention
                    self._anchors[partition] = there
                elif _fingerprint(there) != _fingerprint(anchor):
                    lost[partition] = f"another record at {anchor.offset} than was read there"
                continue  # the record read is still there: a short end is under-reported
            if position > end:
                lost[partition] = f"position {position} beyond the end {end}"
        return lost

    async def _read_back(self, wanted: dict[TopicPartition, Message]
                         ) -> dict[TopicPartition, Message]:
        if self._probe is None:
            self._probe = Probe(self._settings)
        return await self._probe.read({p: m.offset for p, m in wanted.items()})

    def lag(self) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return None
        lag = 0
        for partition in consumer.assignment():
            end = consumer.highwater(partition)
            position = self._positions.get(partition)
            if end is not None and position is not None:
                lag += max(0, end - position)
        return lag

    async def ping(self) -> None:
        consumer = self._live()
        try:
            metadata = await asyncio.wait_for(consumer._client.fetch_all_metadata(), timeout=2)
        except Exception as exc:
            raise ConnectionError(f"the broker ({self._settings.kafka_bootstrap}) does not "
                                  f"answer: {exc!r}") from exc
        if not metadata.brokers():
            raise ConnectionError("no broker in metadata")

    async def close(self) -> None:
        """Stop the clients; one that fails to stop is dropped anyway. aiokafka's stop() of
        a consumer whose broker went away can raise CancelledError (from the fetch tasks it
        cancels): unless this task is itself being cancelled, that is a failure like any
        other, not a reason for the runner to end."""
        consumer, self._consumer = self._consumer, None
        probe, self._probe = self._probe, None
        for stop in (consumer.stop if consumer else None, probe.close if probe else None):
            if stop is None:
                continue
            try:
                await asyncio.wait_for(stop(), timeout=10)
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                log.warning("consumer.close_failed", error=repr(exc))
            except Exception as exc:
                log.warning("consumer.close_failed", error=repr(exc))

    def _live(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise ConnectionError("the consumer is not open")
        return self._consumer


def _fingerprint(message: Message) -> tuple[int | None, bytes | None, bytes | None]:
    return message.timestamp, message.key, message.value


class MemorySource:
    """Messages held in memory, for the fast tier of handler tests (as FastStream's
    TestKafkaBroker): the runner's own loop, transaction and commits, without a broker."""

    following = True

    def __init__(self) -> None:
        self._queue: list[Message] = []
        self._next: dict[tuple[str, int], int] = defaultdict(int)
        self.committed: Offsets = {}

    def put(self, topic: Topic | str, key: str | None, value: bytes | None, *,
            partition: int = 0) -> Message:
        """Add a message, as a producer would."""
        name = topic if isinstance(topic, str) else topic.name
        offset = self._next[name, partition]
        self._next[name, partition] = offset + 1
        message = ConsumerRecord(
            topic=name, partition=partition, offset=offset, timestamp=int(time.time() * 1000),
            timestamp_type=0, key=key.encode() if key is not None else None, value=value,
            checksum=None, serialized_key_size=len(key or ""),
            serialized_value_size=len(value or b""), headers=())
        self._queue.append(message)
        return message

    async def open(self) -> None:
        pass

    async def fetch(self, limit: int) -> list[Message]:
        taken, self._queue = self._queue[:limit], self._queue[limit:]
        return taken

    async def commit(self, offsets: Offsets) -> None:
        self.committed.update(offsets)

    async def at_end(self) -> bool:
        return not self._queue

    async def rewind_if_lost(self) -> dict[tuple[str, int], str]:
        return {}

    def lag(self) -> int | None:
        return len(self._queue)

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        pass
