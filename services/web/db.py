"""A database session per request, for every service's routes."""

from collections.abc import Iterator
from contextlib import nullcontext
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from services.database import write_lock


def request_session(request: Request) -> Iterator[Session]:
    """One session per request. A write takes the database's write lock (SQLite), so a
    read-then-write never works from a stale snapshot, and wakes the service's outbox relay
    once done."""
    state = request.app.state
    writes = request.method not in ("GET", "HEAD")
    with write_lock(state.engine) if writes else nullcontext(), \
            Session(state.engine, expire_on_commit=False) as session:
        yield session
    relay = getattr(state, "relay", None)
    if writes and relay is not None:
        relay.wake()


SessionDep = Annotated[Session, Depends(request_session)]
