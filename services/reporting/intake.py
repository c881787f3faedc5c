"""Group commit: concurrent submissions share one transaction, so intake stays durable
without paying one disk flush per report.

Each request hands its checked draft to the writer and waits; the writer takes every
draft that is waiting, numbers and stores them (reports and outbox rows) in one
transaction, commits, then answers each request. A 2xx therefore always follows a commit.
"""

import asyncio
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.events import ReportSubmitted
from services.http import ApiError
from services.outbox import Relay
from services.reporting import service
from services.reporting.service import Draft

log = structlog.get_logger()
Outcome = tuple[ReportSubmitted, bool] | BaseException


class IntakeWriter:
    """The single writer of reports in this process."""

    def __init__(self, engine: Engine, relay: Relay, *, max_batch: int = 256) -> None:
        self._engine, self._relay, self._max_batch = engine, relay, max_batch
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
                outcomes = await asyncio.to_thread(self._write, [d for d, _ in batch])
            except Exception as exc:  # the database is unreachable: every waiter hears it
                log.error("intake.write_failed", error=repr(exc), batch=len(batch))
                outcomes = [ApiError(503, "storage_unavailable", "try again shortly")] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                _settle(future, outcome)
            self._relay.wake()

    def _write(self, drafts: list[Draft]) -> list[Outcome]:
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                outcomes = [_accept(session, draft) for draft in drafts]
                session.commit()
                return outcomes
        except IntegrityError:  # another process took a version first: go one at a time
            return [self._alone(draft) for draft in drafts]

    def _alone(self, draft: Draft) -> Outcome:
        for _ in range(3):
            with Session(self._engine, expire_on_commit=False) as session:
                outcome = _accept(session, draft)
                try:
                    session.commit()
                    return outcome
                except IntegrityError:
                    session.rollback()
        return ApiError(409, "concurrent_revision", "another revision was stored at the same "
                        "moment; send the report again")


def _accept(session: Session, draft: Draft) -> Outcome:
    try:  # service.accept refuses before it adds anything, so the batch stays clean
        return service.accept(session, draft)
    except ApiError as refusal:
        return refusal


def _settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # the client went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
