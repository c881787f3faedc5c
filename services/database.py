"""Engines and migrations from a URL, in one place: SQLite by default, PostgreSQL by URL."""

import asyncio
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, create_engine

_WRITE_LOCKS: dict[int, threading.Lock] = {}


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    """Serialises a process's write transactions on SQLite, which takes one writer at a time:
    a lock hands over at once where SQLite's busy handler sleeps and polls, and a read-then-
    write transaction can no longer lose its snapshot to another writer. A no-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    return _WRITE_LOCKS.setdefault(id(engine), threading.Lock())


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend the URL names."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a 2xx must survive a power cut too
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def insert_on_conflict(session: Session) -> Any:
    """`insert` with ON CONFLICT support, as the session's database spells it."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def migrate(engine: Engine, script_location: Path) -> None:
    """Bring the schema to the newest alembic revision."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def run_migrations(target_metadata: MetaData) -> None:
    """Body of each service's alembic env.py: run online with the caller's connection."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def ready(engine: Engine) -> None:
    """Readiness check: the database answers (off the event loop)."""
    await asyncio.to_thread(ping, engine)


def ping(engine: Engine) -> None:
    """Raise unless the database answers."""
    with Session(engine) as session:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
