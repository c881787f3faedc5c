"""`python -m services.aggregator.rebuild`: every aggregate again, from the topics alone.

For a new deployment, or after a rule changed: stop the aggregator, run this against its
database (AGGREGATOR_* settings), start the aggregator again. The aggregate tables are
emptied (the kept figures too: the fold shifts them by differences), and the report and
unit topics are read from their beginning until a fetch at their end returns nothing,
through the same runner and handler as the live path, so the figures come out the same.
The kept report versions (the compiled report's history) are not emptied: the fold adds
only the versions it lacks, and keeps those the topics may no longer hold.
"""

import asyncio
import sys
import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from services import database
from services.aggregator.handlers import ReportFold
from services.aggregator.migrations import MIGRATIONS
from services.aggregator.settings import AggregatorSettings
from services.aggregator.store import COUNTS, DAYS, FIGURES, HEADS, PARENTS, TOTALS
from services.bus.consumer import Consumer, KafkaSource, Message
from services.bus.directory import Directory
from services.config import load_settings
from services.events import AGGREGATOR_DEAD_LETTERS, UNITS
from services.observability import ServiceMetrics


async def rebuild(settings: AggregatorSettings, *, bar: bool = True) -> dict[str, int]:
    """Empty the aggregates and fold the whole report topic into them."""
    engine = database.make_engine(settings.database_url)
    database.migrate(engine, MIGRATIONS)
    _empty(engine)
    metrics = ServiceMetrics("aggregator-rebuild")
    progress = _Progress(bar)
    fold = ReportFold(Directory(), announce=False)
    consumer = Consumer(fold, KafkaSource(settings, fold.topics, group=None), metrics,
                        engine=engine, dead_letters=AGGREGATOR_DEAD_LETTERS,
                        max_batch=settings.max_batch, on_batch=progress.add)
    try:
        await consumer.drain()
        progress.done()
        with Session(engine) as session:
            standing = session.execute(sa.select(sa.func.count()).select_from(HEADS)
                                       ).scalar_one()
    finally:
        engine.dispose()
    return {"messages": progress.reports, "units": progress.units, "standing": standing,
            "unreadable": consumer.dead_letter_count}


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (COUNTS, DAYS, HEADS, FIGURES, TOTALS, PARENTS):
            connection.execute(table.delete())


class _Progress:
    """Messages folded so far, drawn on stderr."""

    def __init__(self, bar: bool) -> None:
        self.bar, self.started = bar, time.monotonic()
        self.reports = self.units = 0

    def add(self, messages: Sequence[Message]) -> None:
        units = sum(1 for m in messages if m.topic == UNITS.name)
        self.units, self.reports = self.units + units, self.reports + len(messages) - units
        if self.bar:
            rate = self.reports / max(time.monotonic() - self.started, 1e-6)
            sys.stderr.write(f"\r[rebuild] {self.reports} report messages folded "
                             f"({rate:,.0f}/s), {self.units} unit records read")
            sys.stderr.flush()

    def done(self) -> None:
        if self.bar:
            sys.stderr.write("\n")


def main() -> None:
    settings = load_settings(AggregatorSettings)
    started = time.monotonic()
    counts = asyncio.run(rebuild(settings))
    print(f"rebuilt from {counts['messages']} report messages and {counts['units']} unit "
          f"records: {counts['standing']} standing reports, {counts['unreadable']} unreadable, "
          f"in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()

