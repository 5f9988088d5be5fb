"""SQLite for the async engine without a thread hop per call.

SQLAlchemy's ``sqlite+aiosqlite`` driver runs every DBAPI call (cursor, execute, fetch,
close: about four per statement) on aiosqlite's worker thread and waits for the event loop
to pick up each answer. SQLite on a local file answers in microseconds, so those hand-offs,
not SQLite, were most of the time a webhook spent in the database, and under load they
queued behind other requests while the write lock was held.

This module gives the same SQLAlchemy adapter (``AsyncAdapt_aiosqlite_*``) an inline driver:
calls go straight to the standard library's ``sqlite3`` on the loop's thread and complete
without suspending. That is safe here because:

* writers in this process are serialised by :class:`storage.uow.WriteGate` (one per database
  file), so a write never waits on SQLite's lock for another task of this process, which
  would block the loop;
* in WAL mode readers never wait for writers;
* another process (``intake jobs run-due``, a migration) holds the write lock only for a
  short transaction, bounded by ``busy_timeout``.

``storage.database.create_engine`` uses it for every ``sqlite+aiosqlite`` URL; the URL a
landlord writes does not change.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

__version__ = "1.0"

DatabaseError = sqlite3.DatabaseError
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError
NotSupportedError = sqlite3.NotSupportedError
OperationalError = sqlite3.OperationalError
ProgrammingError = sqlite3.ProgrammingError
sqlite_version = sqlite3.sqlite_version
sqlite_version_info = sqlite3.sqlite_version_info


class Cursor:
    """An awaitable face on a ``sqlite3.Cursor``; every call completes at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: SQLAlchemy's adapter puts
    ``(future, function)`` on it to change the isolation level; run the function now."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class Connection:
    """An awaitable face on a ``sqlite3.Connection`` with aiosqlite's method names."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._tx = _RunNow()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        assert self._conn is not None
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        if self._conn is None:
            raise ValueError("no active connection")
        return Cursor(self._conn.cursor())

    async def commit(self) -> None:
        if self._conn is not None:
            self._conn.commit()

    async def rollback(self) -> None:
        if self._conn is not None:
            self._conn.rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        assert self._conn is not None
        self._conn.create_function(*args, **kwargs)


class _Connecting:
    """What ``connect`` returns: awaitable like aiosqlite's, with the ``_thread`` attribute
    SQLAlchemy marks as a daemon (there is no thread)."""

    def __init__(self, database: str, kwargs: dict[str, Any]) -> None:
        self._database, self._kwargs = database, kwargs
        self._thread = SimpleNamespace(daemon=True)

    def __await__(self) -> Generator[Any, None, Connection]:
        kwargs = {**self._kwargs, "check_same_thread": False}
        return Connection(sqlite3.connect(self._database, **kwargs))
        yield  # pragma: no cover - makes this a generator without suspending


def connect(database: str, **kwargs: Any) -> _Connecting:
    """Open a connection (``await connect(path)``)."""
    return _Connecting(database, kwargs)


class InlineSQLiteDialect(SQLiteDialect_aiosqlite):
    """``sqlite+aiosqlite`` with calls made inline instead of on aiosqlite's thread."""

    driver = "aiosqlite"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        import sys

        return AsyncAdapt_aiosqlite_dbapi(sys.modules[__name__], sqlite3)


DIALECT = "sqlite.inline"
registry.register(DIALECT, __name__, "InlineSQLiteDialect")
