"""The fast tier's seam: handlers run by the real runner on an in-memory source and a real
SQLite database, no broker (see services.bus.consumer.MemorySource)."""

import asyncio
import json
from typing import Any, cast

from sqlalchemy import Engine

from services.bus.consumer import Batch, Consumer, Handler, MemorySource
from services.database import raw_transaction
from services.events import Topic
from services.observability import ServiceMetrics


class Recorder:
    """Wraps a handler and keeps what each batch's `committed` was given."""

    def __init__(self, handler: Handler) -> None:
        self.inner, self.results = handler, cast(list[Any], [])
        self.name, self.topics = handler.name, handler.topics

    def handle(self, session: Any, batch: Batch) -> object:
        return self.inner.handle(session, batch)

    def committed(self, result: Any) -> None:
        self.results.append(result)
        self.inner.committed(result)


def run(handler: Handler, source: MemorySource, *, engine: Engine | None = None,
        dead_letters: Topic | None = None, max_batch: int = 10_000) -> Consumer:
    """Hand everything in `source` to `handler` through the runner, until the source is
    drained; return the runner (its metrics, its dead-letter count)."""
    consumer = Consumer(handler, source, ServiceMetrics("test"), engine=engine,
                        dead_letters=dead_letters, max_batch=max_batch)
    asyncio.run(asyncio.wait_for(consumer.drain(), timeout=30))
    return consumer


def outbox(engine: Engine) -> list[tuple[str, str, Any]]:
    """What the outbox holds, in order: (topic, key, decoded value)."""
    with raw_transaction(engine) as db:
        rows = db.select('SELECT topic, "key", value FROM outbox ORDER BY id')
    return [(topic, key, json.loads(value) if value is not None else None)
            for topic, key, value in rows]
