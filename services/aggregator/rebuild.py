"""`python -m services.aggregator.rebuild`: every aggregate again, from the topics alone.

For a new deployment, or after a rule changed: stop the aggregator, run this against its
database (AGGREGATOR_* settings), start the aggregator again. The aggregate tables are
emptied, the report topic is read from its beginning to its current end and folded exactly
as the live path folds it, so the figures come out the same.
"""

import asyncio
import sys
import time

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Engine
from sqlmodel import Session

from services import database
from services.aggregator import service
from services.aggregator.app import MIGRATIONS
from services.aggregator.consumer import RecordReader, collector_paused
from services.aggregator.settings import AggregatorSettings
from services.aggregator.store import COUNTS, DAYS, HEADS
from services.config import load_settings
from services.events import REPORTS


async def rebuild(settings: AggregatorSettings, *, bar: bool = True) -> dict[str, int]:
    """Empty the aggregates and fold the whole report topic into them."""
    engine = database.make_engine(settings.database_url)
    database.migrate(engine, MIGRATIONS)
    _empty(engine)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        counts = await _fold_all(consumer, engine, bar)
    finally:
        await consumer.stop()
        engine.dispose()
    return counts


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (COUNTS, DAYS, HEADS):
            connection.execute(table.delete())


async def _fold_all(consumer: AIOKafkaConsumer, engine: Engine, bar: bool) -> dict[str, int]:
    metadata = await consumer._client.fetch_all_metadata()
    partitions = [TopicPartition(REPORTS.name, p)
                  for p in sorted(metadata.partitions_for_topic(REPORTS.name) or ())]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    total = sum(ends[p] - starts[p] for p in partitions)
    counts = {"messages": 0, "unreadable": 0}
    while await _behind(consumer, ends):
        for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
            records = [r for r in records if r.offset < ends[TopicPartition(r.topic,
                                                                             r.partition)]]
            reader = RecordReader()
            with collector_paused(), Session(engine) as session:
                service.fold(session, reader.arrivals(records))
                session.commit()
            counts["messages"] += len(records)
            counts["unreadable"] += len(reader.dead)
            if bar:
                _draw(counts["messages"], total)
    with Session(engine) as session:
        counts["standing"] = session.execute(sa.select(sa.func.count()).select_from(HEADS)
                                             ).scalar_one()
    return counts


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


def _draw(done: int, total: int, width: int = 40) -> None:
    share = done / total if total else 1.0
    filled = int(share * width)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"({share:.0%})")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main() -> None:
    settings = load_settings(AggregatorSettings)
    started = time.monotonic()
    counts = asyncio.run(rebuild(settings))
    print(f"rebuilt from {counts['messages']} messages: {counts['standing']} standing reports, "
          f"{counts['unreadable']} unreadable, in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
