"""The SQLite write lock as the event loop takes it, and unsynced transactions."""

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

from services import database


def _engine(tmp_path: Path):
    return database.make_engine(f"sqlite:///{tmp_path / 'lock.db'}")


def _free(lock: AbstractContextManager[object]) -> bool:
    """The lock can be taken (within a second) by another thread."""
    taker = threading.Thread(target=lambda: (lock.__enter__(), lock.__exit__(None, None, None)),
                             daemon=True)
    taker.start()
    taker.join(1)
    return not taker.is_alive()


@asynccontextmanager
async def _ticking() -> AsyncIterator[list[int]]:
    """Counts the event loop's turns (every 5 ms while it is free) for as long as it lasts."""
    ticks = [0]

    async def tick() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()


async def test_the_loop_keeps_serving_while_a_thread_holds_the_write_lock(tmp_path) -> None:
    engine = _engine(tmp_path)
    lock = database.write_lock(engine)
    release = threading.Event()
    holder = threading.Thread(target=lambda: (lock.__enter__(), release.wait(),
                                              lock.__exit__(None, None, None)))
    holder.start()
    asyncio.get_running_loop().call_later(0.2, release.set)
    async with _ticking() as ticks, database.write_lock_awaited(engine):
        assert release.is_set()  # we got the lock only after the thread let it go
    holder.join()
    assert ticks[0] >= 10  # the loop ran while we waited
    assert _free(lock)  # and the lock is free again
    engine.dispose()


async def test_a_cancelled_wait_hands_the_lock_back(tmp_path) -> None:
    engine = _engine(tmp_path)
    lock = database.write_lock(engine)
    lock.__enter__()

    async def wait() -> None:
        async with database.write_lock_awaited(engine):
            raise AssertionError("never reached")

    waiter = asyncio.create_task(wait())
    await asyncio.sleep(0.05)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    lock.__exit__(None, None, None)  # the waiting thread now takes it, then gives it back
    assert await asyncio.to_thread(_free, lock)
    engine.dispose()


def test_an_unsynced_transaction_commits_and_hands_back_a_syncing_connection(tmp_path) -> None:
    engine = _engine(tmp_path)
    with database.raw_transaction(engine) as db:
        db.select("CREATE TABLE t (n INTEGER)")
    with database.raw_transaction(engine, synced=False) as db:
        assert db.select("PRAGMA synchronous") == [(1,)]  # NORMAL: no wait for the disk
        db.many("INSERT INTO t VALUES (?)", [(1,), (2,)])
    with database.raw_transaction(engine) as db:
        assert db.select("PRAGMA synchronous") == [(2,)]  # FULL again
        assert db.select("SELECT count(*) FROM t") == [(2,)]
    engine.dispose()


HOLDER = """
import sys, time
from services import database
engine = database.make_engine(sys.argv[1])
with database.write_lock(engine):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


async def test_the_write_lock_is_shared_with_other_processes(tmp_path) -> None:
    """Another process (the outbox relay) holding the lock makes the loop wait, off the
    loop, and hands it over once let go."""
    engine = _engine(tmp_path)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(engine.url), "0.3", stdout=asyncio.subprocess.PIPE)
    assert holder.stdout is not None and await holder.stdout.readline() == b"held\n"
    held_since = time.monotonic()
    async with _ticking() as ticks, database.write_lock_awaited(engine):
        assert time.monotonic() - held_since >= 0.25  # only once the other process let go
    assert ticks[0] >= 10  # the loop ran while we waited
    assert await holder.wait() == 0
    engine.dispose()
