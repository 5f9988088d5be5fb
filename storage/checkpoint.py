"""SQLite's write-ahead log copied into the database file off the event loop.

SQLite's calls run on the event loop (storage/sqlite_inline.py). By default the commit that
fills the log past 1,000 pages also checkpoints it: copies the pages into the database file
and syncs it to disk, 10-30 ms during which every request in flight waits (measured: 1-2% of
commits, most of the commit time, and the long tail of webhook latency). ``intake serve``
turns that off (``PRAGMA wal_autocheckpoint=0`` on its connections) and runs this instead: a
PASSIVE checkpoint on its own connection in a worker thread (sqlite releases the GIL while it
copies and syncs), about every second, while writers go on. The log starts again from the top
only when a writer finds every frame copied, and under steady writes a commit lands during
every copy, so the log would grow without end: once it holds ``restart_frames`` pages (16 MB),
a second checkpoint runs with this process's write gate held (the loop goes on serving, only
writers wait, for the few pages that came in meanwhile), and the next write starts it again.
``journal_size_limit`` (set on every connection) truncates it after a burst.
Durability is unchanged: a committed transaction is in the log either way, and SQLite
recovers the log on the next open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from storage.database import JOURNAL_SIZE_LIMIT

log = logging.getLogger(__name__)



class WalCheckpointer:
    """Checkpoints one SQLite file's log from a worker thread, every ``interval`` seconds."""

    def __init__(
        self,
        path: str | Path,
        *,
        interval: float = 1.0,
        writers_wait: Callable[[], AbstractAsyncContextManager[object]] | None = None,
        restart_frames: int = 4096,
    ) -> None:
        self.path = str(path)
        self.interval = interval
        self.writers_wait = writers_wait
        self.restart_frames = restart_frames
        """Holds this process's writers back while a checkpoint runs (the write gate)."""
        self._connection: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # one thread at a time on the connection

    def start(self) -> None:
        """Begin checkpointing on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"wal-checkpoint {Path(self.path).name}"
            )

    async def checkpoint(self) -> tuple[int, int, int]:
        """A PASSIVE checkpoint now, in a worker thread, while writers go on; then, if the log
        has grown past ``restart_frames``, another with this process's writers held back (it
        copies only what came in meanwhile), so the next write starts the log again:
        (busy, log frames, frames copied) of the last."""
        result = await asyncio.to_thread(self._checkpoint)
        if self.writers_wait is None or result[1] < self.restart_frames:
            return result
        async with self.writers_wait():
            return await asyncio.to_thread(self._checkpoint)

    async def stop(self) -> None:
        """Stop the loop, copy what is left, and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.checkpoint()
        except sqlite3.Error as exc:  # the next open recovers the log; nothing is lost
            log.warning("sqlite: final checkpoint failed: %s", exc)
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.checkpoint()
            except sqlite3.Error as exc:
                log.warning("sqlite: checkpoint failed (will try again): %s", exc)

    def _checkpoint(self) -> tuple[int, int, int]:
        with self._lock:
            return self._checkpoint_locked()

    def _checkpoint_locked(self) -> tuple[int, int, int]:
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        # fetchall: a statement left unfinished would hold a read snapshot of the log
        ((busy, frames, copied),) = self._connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchall()
        return int(busy), int(frames), int(copied)
