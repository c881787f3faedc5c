"""bench/consumer_frameworks: FastStream's batch subscriber against a bare aiokafka loop.

The question: should the project consume Kafka through FastStream 0.7's batch subscriber
with manual acknowledgement, or keep aiokafka beneath its own runner? Both lanes here do the
aggregator's work with the aggregator's discipline, on the embedded broker (Tansu):

- A, aiokafka: an AIOKafkaConsumer in its own consumer group, `getmany` up to 10,000;
- B, FastStream: a `KafkaBroker` subscriber with `batch=True`, `max_records=10,000`,
  `AckPolicy.MANUAL`, in its own consumer group; a decoder that hands the handler the raw
  aiokafka records (FastStream's default decoder would `json.loads` every message, which
  the fold does not need; `--default-decoder` adds a lane with it, for comparison).

Each batch: its records read as the aggregator reads them (key and version first), folded
by `service.fold` into a fresh, migrated SQLite aggregator database within `write_lock` and
one `Session`, committed; only then are the offsets committed (A: `consumer.commit`, B:
`message.ack()`). Same fetch settings in both lanes (fetch_max_wait_ms 50, one `getmany` a
batch, as FastStream's batch subscriber calls it). Time: from the first batch's arrival to
all N folded and committed. Lanes alternate A, B, A, B; both must end with the same standing
reports and the same activity total. The progress feed is not computed (it needs the
registry's directory; it would cost both lanes the same).

Run: `.venv/bin/python -m bench.consumer_frameworks [--events N] [--runs 2]
[--default-decoder]`.
"""

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from sqlalchemy import Engine
from sqlmodel import Session

from bench.aggregator import _produce, _topic
from deploy.brokers import launch
from services import database
from services.aggregator import service
from services.aggregator.handlers import arrivals
from services.aggregator.migrations import MIGRATIONS
from services.bus.consumer import Batch
from services.events import REPORTS
from services.memory import collector_paused

MAX_BATCH = 10_000
FETCH_MAX_WAIT_MS = 50
BATCH_TIMEOUT_MS = 200  # getmany's wait when nothing has arrived (FastStream's default)
SESSION_TIMEOUT_MS = 6_000  # a join is held ~half of it on Tansu (FACTS.md)

Records = Sequence[ConsumerRecord[bytes, bytes]]
Reader = Callable[[Records], tuple[list[service.Arrival], list[Any]]]


def _read(records: Records) -> tuple[list[service.Arrival], list[Any]]:
    """The aggregator's own reading of a batch (its handler's), with its dead letters."""
    batch = Batch(list(records))
    return arrivals(batch), batch.dead


@dataclass
class Lane:
    """One run's progress and result."""

    expected: int
    engine: Engine
    folded: int = 0
    batches: int = 0
    dead: int = 0
    first: float | None = None
    done: float | None = None
    error: BaseException | None = None

    def arrived(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def rate(self) -> float:
        assert self.first is not None and self.done is not None
        return self.folded / (self.done - self.first)


def _fresh_engine(path: Path) -> Engine:
    engine = database.make_engine(f"sqlite:///{path}")
    database.migrate(engine, MIGRATIONS)
    return engine


def _fold(engine: Engine, records: Records) -> int:
    """As the aggregator: read, fold and commit one batch in one transaction."""
    assert isinstance(records[0].key, bytes) and isinstance(records[0].value, bytes)
    with database.write_lock(engine), Session(engine) as session:
        with collector_paused():
            arrivals, dead = _read(records)
            service.fold(session, arrivals)
        session.commit()
    return len(dead)


async def _lane_aiokafka(bootstrap: str, group: str, lane: Lane, deadline: float) -> None:
    consumer = AIOKafkaConsumer(
        REPORTS.name, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=SESSION_TIMEOUT_MS // 5)
    await consumer.start()
    try:
        while lane.folded < lane.expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=BATCH_TIMEOUT_MS, max_records=MAX_BATCH)
            if not batch:
                continue
            lane.arrived()
            records = [record for part in batch.values() for record in part]
            lane.dead += await asyncio.to_thread(_fold, lane.engine, records)
            offsets: dict[TopicPartition, int] = {
                partition: part[-1].offset + 1 for partition, part in batch.items()}
            await consumer.commit(offsets)  # after the database commit
            lane.folded += len(records)
            lane.batches += 1
        lane.done = time.perf_counter()
    finally:
        await consumer.stop()


async def _raw_records(message: StreamMessage[Any]) -> Any:
    """A decoder that decodes nothing: the handler gets the batch's aiokafka records."""
    return message.raw_message


async def _lane_faststream(bootstrap: str, group: str, lane: Lane, deadline: float,
                           default_decoder: bool = False) -> None:
    broker = KafkaBroker(bootstrap, logger=None)
    finished = asyncio.Event()

    @broker.subscriber(
        REPORTS.name, batch=True, group_id=group, ack_policy=AckPolicy.MANUAL,
        max_records=MAX_BATCH, batch_timeout_ms=BATCH_TIMEOUT_MS, auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS, session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=SESSION_TIMEOUT_MS // 5,
        decoder=None if default_decoder else _raw_records)
    async def settle(body: Any, message: KafkaMessage) -> None:
        # body: the records themselves (raw decoder), or FastStream's json.loads of each
        # message (default decoder); the fold reads the records' bytes either way
        lane.arrived()
        try:
            records = message.raw_message
            assert isinstance(records, tuple) and (default_decoder or body is records)
            lane.dead += await asyncio.to_thread(_fold, lane.engine, records)
            await message.ack()  # after the database commit
        except Exception as exc:  # FastStream would only log it, and we log nothing
            lane.error = exc
            finished.set()
            raise
        lane.folded += len(records)
        lane.batches += 1
        if lane.folded >= lane.expected:
            lane.done = time.perf_counter()
            finished.set()

    await broker.start()
    try:
        await asyncio.wait_for(finished.wait(), timeout=max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        pass  # reported as incomplete by the caller
    finally:
        await broker.stop()


def _standing(engine: Engine) -> tuple[int, int]:
    """Standing reports, and the total of all activity counts: what both lanes must agree on."""
    with engine.connect() as connection:
        reports = connection.execute(sa.text("SELECT count(*) FROM period_reports")).scalar()
        total = connection.execute(
            sa.text("SELECT coalesce(sum(count), 0) FROM activity_counts")).scalar()
    return int(reports or 0), int(total or 0)


@dataclass
class Result:
    lane: str
    run: int
    rate: float
    standing: tuple[int, int]
    batches: int
    folded: int


def _run(name: str, bootstrap: str, expected: int, work: Path, run: int) -> Result:
    engine = _fresh_engine(work / f"{name}-{run}.db")
    lane = Lane(expected, engine)
    deadline = time.monotonic() + 120 + expected / 1_000  # a bound, far above the expected
    group = f"bench-{name}-{run}"
    if name == "aiokafka":
        asyncio.run(_lane_aiokafka(bootstrap, group, lane, deadline))
    else:
        asyncio.run(_lane_faststream(bootstrap, group, lane, deadline,
                                     default_decoder=name == "faststream-default"))
    if lane.error is not None:
        raise lane.error
    if lane.folded < expected or lane.done is None:
        raise SystemExit(f"{name} run {run}: folded {lane.folded} of {expected} in time")
    assert lane.dead == 0, f"{name} run {run}: {lane.dead} dead letters"
    result = Result(name, run, lane.rate(), _standing(engine), lane.batches, lane.folded)
    engine.dispose()
    return result


def _print(produced: int, results: list[Result]) -> None:
    lanes = [("aiokafka", "A  aiokafka getmany + manual commit"),
             ("faststream", "B  FastStream batch, AckPolicy.MANUAL"),
             ("faststream-default", "B' FastStream batch, default decoder")]
    print(f"bench/consumer_frameworks: {produced:,} report events on Tansu (3 partitions), "
          f"folded into durable SQLite aggregates, batches up to {MAX_BATCH:,}")
    runs = max(r.run for r in results)
    heads = "".join(f" {f'run {n}':>10}" for n in range(1, runs + 1))
    print(f"  {'lane':<40}{heads} {'mean':>10}  batches  standing")
    means: dict[str, float] = {}
    for key, title in lanes:
        lane = [r for r in results if r.lane == key]
        if not lane:
            continue
        mean = means[key] = sum(r.rate for r in lane) / len(lane)
        rates = "".join(f" {r.rate:>10,.0f}" for r in lane)
        batches = "/".join(str(r.batches) for r in lane)
        print(f"  {title:<40}{rates} {mean:>10,.0f}  {batches:<7}  "
              f"{lane[0].standing[0]:,} reports, {lane[0].standing[1]:,} activities")
    print("  (events/s, from the first batch's arrival to all folded and committed)")
    print(f"  ratio B/A = {means['faststream'] / means['aiokafka']:.3f}")
    if "faststream-default" in means:
        print(f"  ratio B'/A = {means['faststream-default'] / means['aiokafka']:.3f}")


def _order(runs: int, default_decoder: bool) -> Iterator[tuple[str, int]]:
    for run in range(1, runs + 1):
        yield "aiokafka", run
        yield "faststream", run
        if default_decoder:
            yield "faststream-default", run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=2, help="runs of each lane, alternating")
    parser.add_argument("--default-decoder", action="store_true",
                        help="also run FastStream with its default (JSON) decoder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-consumer-frameworks-"))
    broker = launch("tansu", workdir=work / "broker")
    try:
        asyncio.run(_topic(broker.bootstrap))
        produced = asyncio.run(_produce(broker.bootstrap, args.events))
        results = [_run(name, broker.bootstrap, produced, work, run)
                   for name, run in _order(args.runs, args.default_decoder)]
    finally:
        broker.stop()
    standings = {r.standing for r in results}
    for r in results:
        print(f"  run {r.run} {r.lane}: {r.folded:,} folded, standing {r.standing[0]:,} reports, "
              f"{r.standing[1]:,} activities, {r.batches} batches")
    _print(produced, results)
    assert len(standings) == 1, f"lanes disagree on the standing reports: {standings}"


if __name__ == "__main__":
    main()
