"""Group commit: concurrent submissions share one transaction, so intake stays durable
without paying one disk flush per report.

Each request hands its checked draft to the writer and waits; the writer takes every
draft that is waiting, numbers and stores them (reports and outbox rows) in one
transaction, commits, then answers each request. A 2xx therefore always follows a commit.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.database import write_lock
from services.events import ReportSubmitted
from services.http import ApiError
from services.outbox import Relay
from services.reporting import service
from services.reporting.service import Draft

log = structlog.get_logger()
Outcome = tuple[ReportSubmitted, bool] | BaseException  # as service.Outcome, or a failure


class IntakeWriter:
    """The single writer of reports in this process."""

    def __init__(self, engine: Engine, relay: Relay, *, max_batch: int = 256) -> None:
        self._engine, self._relay, self._max_batch = engine, relay, max_batch
        # SQLite works in-process and holds the GIL; a thread would only wait for it behind
        # the event loop. A network database waits on I/O, so a thread lets the loop go on.
        self._inline = engine.dialect.name == "sqlite"
        self._queue: asyncio.Queue[tuple[Draft, asyncio.Future[Any]]] = asyncio.Queue()

    async def submit(self, draft: Draft) -> tuple[ReportSubmitted, bool]:
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
                drafts = [draft for draft, _ in batch]
                outcomes = (self._write(drafts) if self._inline
                            else await asyncio.to_thread(self._write, drafts))
            except Exception as exc:  # the database is unreachable: every waiter hears it
                log.error("intake.write_failed", error=repr(exc), batch=len(batch))
                outcomes = [ApiError(503, "storage_unavailable", "try again shortly")] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                _settle(future, outcome)
            self._relay.wake()

    def _write(self, drafts: list[Draft]) -> Sequence[Outcome]:
        try:
            return self._commit(drafts)
        except IntegrityError:  # another process took an id or a version first
            return [self._alone(draft) for draft in drafts]

    def _commit(self, drafts: list[Draft]) -> Sequence[Outcome]:
        with write_lock(self._engine), Session(self._engine,
                                               expire_on_commit=False) as session:
            outcomes = service.accept_batch(session, drafts)
            session.commit()
            return outcomes

    def _alone(self, draft: Draft) -> Outcome:
        """One draft in its own transaction, retried: the rival's row is visible now."""
        for _ in range(3):
            try:
                [outcome] = self._commit([draft])
                return outcome
            except IntegrityError:
                continue
        return ApiError(409, "concurrent_revision", "another revision was stored at the same "
                        "moment; send the report again")


def _settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # the client went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
