"""The one consumer runner, through its in-memory seam: batches, one transaction for a
handler's writes and its events, offsets only after the commit, dead letters."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from aiokafka.errors import CommitFailedError
from pydantic import BaseModel
from sqlmodel import Session

from services.aggregator.migrations import MIGRATIONS
from services.bus.consumer import Batch, Consumer, MemorySource, Offsets
from services.bus.directory import Directory, DirectoryHandler, follower
from services.config import ServiceSettings
from services.events import (
    AGGREGATOR_DEAD_LETTERS,
    AGGREGATOR_PROGRESS,
    CREDENTIALS,
    UNITS,
    CredentialScope,
    CredentialSnapshot,
    Topic,
)
from services.observability import ServiceMetrics
from services.refusals import Unavailable
from tests.handlers import outbox, run


class Note(BaseModel):
    text: str


TOPIC = Topic(name="test.things.v1", model=Note, key="thing", description="Things.",
              partitions=2)


class Writer:
    """Writes a row per message, emits one event per batch, and can be made to fail."""

    name = "writer"
    topics = (TOPIC,)

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.fail_on, self.batches, self.committed_results = fail_on, [], []  # type: ignore

    def handle(self, session: Any, batch: Batch) -> int:
        self.batches.append(len(batch.messages))
        for message in batch.messages:
            if message.value == self.fail_on:
                raise RuntimeError("the handler failed")
            if message.value == b"unreadable":
                batch.bury(message, "not a thing")
                continue
            session.execute(sa.text("INSERT INTO breaches (id, detected_at) VALUES "
                                    "(:id, CURRENT_TIMESTAMP)"),
                            {"id": f"{message.partition}-{message.offset}"})
        batch.emit(AGGREGATOR_PROGRESS, "batch", Note(text=f"{len(batch.messages)} seen"))
        return len(batch.messages)

    def committed(self, result: int) -> None:
        self.committed_results.append(result)


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)  # any migrated database: the writer uses `breaches`


def rows(engine) -> set[str]:
    with Session(engine) as session:
        return {r for (r,) in session.execute(sa.text("SELECT id FROM breaches"))}


def test_writes_events_and_offsets_commit_together(engine) -> None:
    source = MemorySource()
    for n in range(5):
        source.put(TOPIC, f"k{n}", b"x", partition=n % 2)
    writer = Writer()
    run(writer, source, engine=engine)
    assert rows(engine) == {"0-0", "0-1", "0-2", "1-0", "1-1"}
    assert outbox(engine) == [(AGGREGATOR_PROGRESS.name, "batch", {"text": "5 seen"})]
    assert source.committed == {(TOPIC.name, 0): 3, (TOPIC.name, 1): 2}
    assert writer.committed_results == [5]


def test_a_failing_handler_commits_nothing_and_the_batch_comes_again(engine) -> None:
    source = MemorySource()
    source.put(TOPIC, "a", b"x")
    source.put(TOPIC, "b", b"boom")
    consumer = Consumer(Writer(fail_on=b"boom"), source, ServiceMetrics("test"), engine=engine)
    with pytest.raises(RuntimeError, match="the handler failed"):
        asyncio.run(consumer.drain())
    assert rows(engine) == set() and outbox(engine) == []
    assert source.committed == {}


def test_batches_take_what_has_arrived_up_to_the_cap(engine) -> None:
    source = MemorySource()
    for _ in range(7):
        source.put(TOPIC, "k", b"x")
    writer = Writer()
    run(writer, source, engine=engine, max_batch=3)
    assert writer.batches == [3, 3, 1]
    assert source.committed == {(TOPIC.name, 0): 7}


def test_unreadable_messages_become_dead_letters_and_the_partition_moves_on(engine) -> None:
    source = MemorySource()
    source.put(TOPIC, "a", b"x")
    source.put(TOPIC, "bad", b"unreadable")
    source.put(TOPIC, "c", b"x")
    consumer = run(Writer(), source, engine=engine, dead_letters=AGGREGATOR_DEAD_LETTERS)
    [letter] = [value for topic, _, value in outbox(engine)
                if topic == AGGREGATOR_DEAD_LETTERS.name]
    assert (letter["consumer"], letter["topic"], letter["offset"], letter["key"],
            letter["value"], letter["error"]) == ("writer", TOPIC.name, 1, "bad",
                                                  "unreadable", "not a thing")
    assert rows(engine) == {"0-0", "0-2"} and consumer.dead_letter_count == 1
    assert source.committed == {(TOPIC.name, 0): 3}


def test_dead_letters_need_a_database_to_go_through_the_outbox() -> None:
    with pytest.raises(ValueError, match="outbox"):
        Consumer(Writer(), MemorySource(), ServiceMetrics("test"),
                 dead_letters=AGGREGATOR_DEAD_LETTERS)


def test_the_registry_read_model_folds_in_memory_and_sets_bad_records_aside() -> None:
    directory = Directory()
    source = MemorySource()
    unit: dict[str, Any] = {"code": "xa-a", "name": "Xã A", "kind": "commune", "admin_code": None,
            "active_from": "2025-07-01", "active_until": None, "revision": 2,
            "updated_at": "2026-01-01T00:00:00Z", "contacts": {}, "channels": {}}
    source.put(UNITS, "xa-a", json.dumps(unit).encode())
    source.put(UNITS, "xa-b", b"{broken")
    source.put(UNITS, "xa-a", json.dumps(unit | {"revision": 1, "name": "Cũ"}).encode())
    consumer = run(DirectoryHandler(directory), source)
    assert directory.units["xa-a"].name == "Xã A"  # an older revision never wins
    assert "xa-b" not in directory.units and consumer.dead_letter_count == 1
    assert consumer.caught_up.is_set()


def test_the_registry_read_model_judges_no_token_until_read_to_the_end() -> None:
    """A service just started, its read model half read, says 503 (try again): a token not
    read yet is not unknown (no 401 for a valid one), and one read as valid may be revoked
    further on (no 2xx for a revoked one)."""
    issued = CredentialSnapshot(
        id="c-1", scope=CredentialScope.unit, unit_code="xa-a", label="cán bộ",
        token_sha256=hashlib.sha256(b"hpk_token").hexdigest(),
        issued_at=datetime(2026, 1, 5, tzinfo=UTC))
    revoked = issued.model_copy(update={"revoked_at": datetime(2026, 1, 6, tzinfo=UTC)})
    source, directory = MemorySource(), Directory()
    for snapshot in (issued, revoked):
        source.put(CREDENTIALS, "c-1", snapshot.model_dump_json().encode())
    settings = ServiceSettings(port=1, database_url="sqlite://", kafka_bootstrap="unused:1")
    consumer = follower(settings, directory, ServiceMetrics("test"), source=source)
    with pytest.raises(Unavailable):
        directory.caller("hpk_token")
    asyncio.run(asyncio.wait_for(consumer.drain(), timeout=30))
    assert directory.caller("hpk_token") is None  # read to the end: revoked


class _Rebalanced(MemorySource):
    """A source whose first offset commit is refused, as after a rebalance."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def commit(self, offsets: Offsets) -> None:
        if not self.refused:
            self.refused += 1
            raise CommitFailedError("the group rebalanced")
        await super().commit(offsets)


def test_a_commit_refused_by_a_rebalance_is_told_and_the_runner_goes_on(engine) -> None:
    """The batch is durable in the database; its partitions' new owner reads it again and
    the handler skips it. The runner neither stops nor reconnects."""
    source = _Rebalanced()
    for n in range(3):
        source.put(TOPIC, f"k{n}", b"x")
    writer = Writer()
    metrics = ServiceMetrics("test")
    consumer = Consumer(writer, source, metrics, engine=engine, max_batch=1)
    with structlog.testing.capture_logs() as logs:
        asyncio.run(asyncio.wait_for(consumer.drain(), timeout=30))
    assert rows(engine) == {"0-0", "0-1", "0-2"}
    assert writer.committed_results == [1, 1, 1]  # the refused batch's work counted as done
    assert source.committed == {(TOPIC.name, 0): 3}
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "consumer.commit_refused"]
    assert metrics.registry.get_sample_value(
        "errors_total", {"kind": "consumer_writer_commit_refused"}) == 1
