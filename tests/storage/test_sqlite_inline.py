"""SQLite with calls made inline on the event loop (storage/sqlite_inline.py): no thread per
connection, and no way for the loop to wait on SQLite's lock for a task of its own."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from storage.migrate import upgrade
from storage.models import Person
from storage.uow import Storage


async def _database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    await asyncio.to_thread(upgrade, url)  # Alembic runs its own loop
    return url


async def _people(storage: Storage) -> int:
    async with storage.session() as session:
        return int(await session.scalar(select(func.count(Person.id))) or 0)


async def test_connections_open_no_thread_and_answer_on_the_loop(tmp_path: Path) -> None:
    storage = Storage.from_url(await _database(tmp_path))
    before = threading.active_count()
    try:

        async def write(n: int) -> None:
            async with storage.unit_of_work() as uow:
                uow.session.add(Person(name=f"tenant {n}"))

        await asyncio.gather(*(write(n) for n in range(20)))
        assert threading.active_count() == before  # aiosqlite starts a thread per connection
        assert await _people(storage) == 20
    finally:
        await storage.close()


async def test_two_storages_on_one_file_take_turns_instead_of_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """A writer holding SQLite's lock across an await must not make a writer of another
    Storage on the same file wait inside SQLite (that would stop the loop, and with it the
    holder, until the 30 s busy timeout)."""
    url = await _database(tmp_path)
    first, second = Storage.from_url(url), Storage.from_url(url)
    try:

        async def slow_writer() -> None:
            async with first.unit_of_work() as uow:
                uow.session.add(Person(name="slow"))
                await uow.session.flush()  # holds the write lock from here to commit
                await asyncio.sleep(0.3)

        async def quick_writer() -> None:
            await asyncio.sleep(0.05)
            async with second.unit_of_work() as uow:
                uow.session.add(Person(name="quick"))

        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(slow_writer(), quick_writer()), timeout=10)
        assert time.monotonic() - started < 5
        assert await _people(first) == 2
    finally:
        await first.close()
        await second.close()


async def test_a_write_waits_for_another_process_and_is_kept(tmp_path: Path) -> None:
    """``intake jobs run-due`` in another process may hold the lock briefly: a message
    arriving then is stored once the lock is free, not lost."""
    url = await _database(tmp_path)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(1.0)\n"
        "c.execute('COMMIT')\n",
        str(tmp_path / "intake.db"),
        stdout=asyncio.subprocess.PIPE,
    )
    storage = Storage.from_url(url)
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        started = time.monotonic()
        async with storage.unit_of_work() as uow:
            uow.session.add(Person(name="arrived while locked"))
        assert time.monotonic() - started >= 0.5  # it waited for the other process
        assert await _people(storage) == 1
    finally:
        await storage.close()
        await asyncio.wait_for(holder.wait(), timeout=30)
