"""Engines and migrations from a URL, in one place: SQLite by default, PostgreSQL by URL."""

import asyncio
import fcntl
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import (
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Dialect, Engine, MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine


class WriteLock:
    """One writer at a time on a SQLite file, among this process's threads (a mutex) and
    among processes (an flock on a file beside the database, such as the relay process's):
    a lock hands over at once, where SQLite's busy handler sleeps and polls."""

    def __init__(self, path: str | None) -> None:
        self._mutex = threading.Lock()
        self._file = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def acquire(self, blocking: bool = True) -> bool:
        if not self._mutex.acquire(blocking):
            return False
        if self._file is None:
            return True
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            self._mutex.release()
            return False
        except BaseException:
            self._mutex.release()
            raise
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._mutex.release()

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


_WRITE_LOCKS: dict[str, WriteLock] = {}  # by database file: engines on one file share one
_ENGINE_LOCKS: "weakref.WeakKeyDictionary[Engine, WriteLock]" = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    """Serialises write transactions on SQLite, which takes one writer at a time (see
    WriteLock); a read-then-write transaction can no longer lose its snapshot to another
    writer. A no-op elsewhere."""
    lock = _sqlite_lock(engine)
    return nullcontext() if lock is None else lock


def hold_partitions(session: Session, owner: str,
                    partitions: Iterable[tuple[str, int]]) -> None:
    """Hold these Kafka partitions for `owner` (a consumer group) until the session's
    transaction ends. On PostgreSQL, an advisory lock per partition, taken in one order so
    that two holders never deadlock: when a rebalance hands a partition to
    another process while this one still folds a batch of it, or this one is a zombie past
    its session timeout, the other waits for this commit and then sees what it wrote (and
    its idempotent handler skips it). SQLite's write lock (write_lock) already admits one
    writer at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for topic, partition in sorted(set(partitions)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:slot), :partition)"),
                        {"slot": f"{owner}/{topic}", "partition": partition})


@asynccontextmanager
async def write_lock_awaited(engine: Engine) -> AsyncIterator[None]:
    """As write_lock, for the event loop: while another thread or process holds the lock
    (the relay, committing), wait for it in a thread, so that the loop goes on serving."""
    lock = _sqlite_lock(engine)
    if lock is None:
        yield
        return
    if not lock.acquire(blocking=False):
        acquiring = asyncio.get_running_loop().run_in_executor(None, lock.acquire)
        try:
            await asyncio.shield(acquiring)
        except asyncio.CancelledError:  # the thread takes the lock all the same: hand it back
            acquiring.add_done_callback(lambda _: lock.release())
            raise
    try:
        yield
    finally:
        lock.release()


def _sqlite_lock(engine: Engine) -> WriteLock | None:
    if engine.dialect.name != "sqlite":
        return None
    lock = _ENGINE_LOCKS.get(engine)  # finding the file's costs a trip to the file system
    if lock is None:
        with _WRITE_LOCKS_GUARD:
            path = _sqlite_path(engine)
            if path is None:  # an in-memory database is its engine's alone
                lock = WriteLock(None)
            elif (lock := _WRITE_LOCKS.get(path)) is None:
                lock = _WRITE_LOCKS[path] = WriteLock(path)
            _ENGINE_LOCKS[engine] = lock
    return lock


def _sqlite_path(engine: Engine) -> str | None:
    path = engine.url.database
    return str(Path(path).resolve()) if path and path != ":memory:" else None


class Lease:
    """Held by one process at a time, for as long as it works (a relay of an outbox, say):
    an flock on a file beside a SQLite database, a session advisory lock on PostgreSQL. The
    operating system or the server lets go when the process or its connection dies."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine, self._name = engine, name
        self._file: int | None = None
        self._connection: Any = None

    def try_acquire(self) -> bool:
        """Take the lease if it is free (blocking I/O: call from a thread)."""
        if self._engine.dialect.name == "postgresql":
            connection = self._engine.raw_connection()
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [self._name])
            [(taken,)] = cursor.fetchall()
            connection.commit()
            if not taken:
                connection.close()
                return False
            self._connection = connection
            return True
        path = _sqlite_path(self._engine)
        if path is None:
            return True
        handle = os.open(f"{path}-{self._name}.lease", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # which lets go of the flock
            self._file = None
        if self._connection is not None:
            self._connection.invalidate()  # closes it, and with it its advisory lock
            self._connection = None


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


class RawConnection:
    """A DB-API connection inside one transaction, for a hot path where SQLAlchemy's work per
    statement costs more than the statement. SQL is written with `?` whatever the driver."""

    def __init__(self, dialect: Dialect, cursor: Any) -> None:
        self._cursor, self._qmark = cursor, dialect.paramstyle == "qmark"
        self._timestamp, self._moment = _timestamp_processors(dialect)

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), params)
        return list(self._cursor.fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement, run for each of many rows."""
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def timestamp(self, moment: datetime) -> Any:
        """A datetime as this database takes it."""
        return self._timestamp(moment) if self._timestamp else moment

    def moment(self, value: Any) -> datetime:
        """A timestamp column's value as a datetime (SQLite's come back naive, in UTC)."""
        return self._moment(value) if self._moment else value

    def _sql(self, sql: str) -> str:
        return sql if self._qmark else sql.replace("?", "%s")


@cache
def _timestamp_processors(dialect: Dialect) -> tuple[Callable[[Any], Any] | None,
                                                     Callable[[Any], Any] | None]:
    """SQLite keeps datetimes as text: write and read them exactly as SQLAlchemy does."""
    kind = DateTime(timezone=True).dialect_impl(dialect)
    return kind.bind_processor(dialect), kind.result_processor(dialect, None)


def raw_in(session: Session) -> RawConnection:
    """The session's own connection, raw, inside the session's transaction."""
    connection = session.connection()
    return RawConnection(connection.dialect, connection.connection.cursor())


@contextmanager
def raw_transaction(engine: Engine, *, synced: bool = True) -> Iterator[RawConnection]:
    """A pooled connection's transaction: committed when the block ends, else rolled back.
    Driver errors surface as SQLAlchemy's (IntegrityError, OperationalError...).

    `synced=False` lets SQLite commit without waiting for the disk: a power cut may undo the
    transaction, never corrupt the database. Only for work that is safe to redo."""
    with _raw_connection(engine) as (db, connection):
        relaxed = not synced and engine.dialect.name == "sqlite"
        if relaxed:
            db.select("PRAGMA synchronous=NORMAL")
        try:
            yield db
            connection.commit()
        finally:
            if relaxed:
                try:
                    connection.rollback()  # a PRAGMA is refused inside a transaction
                    db.select("PRAGMA synchronous=FULL")
                except Exception:  # never hand a writer a connection that does not sync
                    connection.invalidate()


@asynccontextmanager
async def raw_transaction_flushed_aside(engine: Engine) -> AsyncIterator[RawConnection]:
    """As raw_transaction for statements run on the event loop, with the commit, a wait for
    the disk that lets go of the GIL, in a thread: the loop goes on serving meanwhile. On
    SQLite, hold write_lock_awaited around it: the transaction takes SQLite's lock up front."""
    with _raw_connection(engine) as (db, connection):
        if engine.dialect.name == "sqlite":  # with write_lock held, at once
            db.select("BEGIN IMMEDIATE")
        yield db
        await asyncio.to_thread(connection.commit)


@contextmanager
def _raw_connection(engine: Engine) -> Iterator[tuple[RawConnection, Any]]:
    connection = engine.raw_connection()
    try:
        yield RawConnection(engine.dialect, connection.cursor()), connection
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, engine.dialect.loaded_dbapi.Error) from exc
    finally:
        connection.close()  # back to the pool, which rolls back what was not committed


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
