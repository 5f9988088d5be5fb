"""``intake serve`` checkpoints SQLite's log off the event loop: no commit copies the log into
the database file (10-30 ms on the loop, every request waiting); the worker thread does, and a
closing Storage leaves nothing behind in the log."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.migrate import upgrade
from storage.uow import Storage

BODY = b"x" * 3000  # about a page per message: 1,500 messages are well past 1,000 pages


def _checkpointed_rows(path: Path) -> int:
    """Messages in the database file itself, ignoring the log (immutable: no WAL read)."""
    connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM inbound_messages").fetchone()[0])
    finally:
        connection.close()


async def _store(storage: Storage, count: int, prefix: str = "SM") -> None:
    for n in range(count):
        async with storage.unit_of_work() as uow:
            await uow.inbound.record("sms", f"{prefix}{n:06d}", BODY)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "intake.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def test_commits_leave_the_log_to_the_checkpointer(database: Path) -> None:
    storage = Storage.from_url(f"sqlite+aiosqlite:///{database}", background_checkpoints=True)
    assert storage.checkpointer is not None
    storage.checkpointer.interval = 3600  # only the explicit checkpoints below
    try:
        await _store(storage, 1500)
        assert _checkpointed_rows(database) == 0  # all 1,500 are in the log, none copied
        busy, frames, copied = await storage.checkpointer.checkpoint()
        assert busy == 0 and frames > 1000 and copied == frames
        assert _checkpointed_rows(database) == 1500
        await _store(storage, 10, "SMlater")  # the log starts again from the top; nothing is lost
    finally:
        await storage.close()  # a last checkpoint
    assert _checkpointed_rows(database) == 1510


async def test_without_it_a_commit_checkpoints_on_the_loop(database: Path) -> None:
    """The contrast (SQLite's default, kept for short-lived commands): some commit on the event
    loop copied the log into the file."""
    storage = Storage.from_url(f"sqlite+aiosqlite:///{database}")
    assert storage.checkpointer is None
    try:
        await _store(storage, 1500)
        assert _checkpointed_rows(database) > 0
    finally:
        await storage.close()


async def test_the_checkpointer_runs_by_itself(database: Path) -> None:
    storage = Storage.from_url(f"sqlite+aiosqlite:///{database}", background_checkpoints=True)
    assert storage.checkpointer is not None
    storage.checkpointer.interval = 0.05
    try:
        await _store(storage, 50)
        for _ in range(100):  # up to 5 s; a checkpoint is due every 0.05 s
            if _checkpointed_rows(database) == 50:
                break
            await asyncio.sleep(0.05)
        assert _checkpointed_rows(database) == 50
    finally:
        await storage.close()


async def test_the_log_starts_again_under_steady_writes(database: Path) -> None:
    """Writers never stop: each checkpoint must still let the log start again from the top
    (a pass with this process's writers held back once it is large), so the log file stays small
    instead of growing for as long as the writes go on."""
    storage = Storage.from_url(f"sqlite+aiosqlite:///{database}", background_checkpoints=True)
    assert storage.checkpointer is not None
    storage.checkpointer.interval = 0.02
    storage.checkpointer.restart_frames = 500  # 2 MB of pages
    wal = database.with_name(database.name + "-wal")
    try:
        largest = 0
        for n in range(3000):  # about a page each, ~12 MB in all, yielding as a server does
            async with storage.unit_of_work() as uow:
                await uow.inbound.record("sms", f"SMsteady{n:06d}", BODY)
            await asyncio.sleep(0)
            if n % 50 == 0:
                largest = max(largest, wal.stat().st_size)
        assert largest < 8 * 1024 * 1024, largest  # without the gated pass: 78 MB
    finally:
        await storage.close()
    assert _checkpointed_rows(database) == 3000
