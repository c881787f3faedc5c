"""Group commit: concurrent submissions share one transaction, so intake stays durable
without paying one disk flush per report.

Each request hands its checked draft to the writer and waits; the writer takes every
draft that is waiting, numbers and stores them (reports and outbox rows) in one
transaction, commits, then answers each request. A 2xx therefore always follows a commit.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from services.database import (
    raw_transaction,
    raw_transaction_flushed_aside,
    write_lock_awaited,
)
from services.refusals import Conflict, Unavailable
from services.reporting import service
from services.reporting.schemas import Receipt
from services.reporting.service import Draft

log = structlog.get_logger()
Outcome = tuple[Receipt, bool] | BaseException  # as service.Outcome, or a failure


class IntakeWriter:
    """The single writer of reports in this process."""

    def __init__(self, engine: Engine, wake_relay: Callable[[], None], *,
                 max_batch: int = 256) -> None:
        self._engine, self._wake_relay, self._max_batch = engine, wake_relay, max_batch
        # SQLite works in-process: a thread running the statements would need the GIL back
        # for every row it binds, each time waiting behind the event loop. So the statements
        # run inline and only the commit, a wait for the disk, goes to a thread. A network
        # database waits on I/O throughout, so the whole transaction goes to a thread.
        self._inline = engine.dialect.name == "sqlite"
        self._queue: asyncio.Queue[tuple[Draft, asyncio.Future[Any]]] = asyncio.Queue()

    async def submit(self, draft: Draft) -> tuple[Receipt, bool]:
        """Store a draft (or find what it repeats) once it is committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((draft, future))
        return await future

    async def run(self) -> None:
        """Write batches until cancelled."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._write([draft for draft, _ in batch])
            except Exception as exc:  # the database is unreachable: every waiter hears it
                log.error("intake.write_failed", error=repr(exc), batch=len(batch))
                outcomes = [Unavailable("storage_unavailable", "try again shortly")
                            for _ in batch]
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                _settle(future, outcome)
            self._wake_relay()

    async def _write(self, drafts: list[Draft]) -> Sequence[Outcome]:
        try:
            return await self._commit(drafts)
        except IntegrityError:  # another process took an id or a version first
            return [await self._alone(draft) for draft in drafts]

    async def _commit(self, drafts: list[Draft]) -> Sequence[Outcome]:
        if not self._inline:
            return await asyncio.to_thread(self._commit_in_thread, drafts)
        async with (write_lock_awaited(self._engine),
                    raw_transaction_flushed_aside(self._engine) as db):
            return service.accept_batch(db, drafts)

    def _commit_in_thread(self, drafts: list[Draft]) -> Sequence[Outcome]:
        with raw_transaction(self._engine) as db:
            return service.accept_batch(db, drafts)

    async def _alone(self, draft: Draft) -> Outcome:
        """One draft in its own transaction, retried: the rival's row is visible now."""
        for _ in range(3):
            try:
                [outcome] = await self._commit([draft])
                return outcome
            except IntegrityError:
                continue
        return Conflict("concurrent_revision", "another revision was stored at the same "
                        "moment; send the report again")


def _settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # the client went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
