"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_ASYNCPG_LOST: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # incl. "connection does not exist"
    asyncpg.exceptions.AdminShutdownError,  # the backend was terminated
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # the server is starting or stopping
)
_ASYNCPG_BROKEN_STATE = "cannot switch to state"
"""asyncpg's InternalClientError when the server's goodbye (a terminated backend's FATAL)
arrives while the client is mid-exchange, before it has seen the socket close."""


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, background_checkpoints: bool = False
) -> AsyncEngine:
    """An async engine, with SQLite tuned for one busy process (WAL, foreign keys on).

    The SQLite file's folder is created if missing, so a fresh clone needs nothing set up.
    With ``background_checkpoints`` SQLite's commits never checkpoint the log themselves
    (storage/checkpoint.py does it off the event loop).
    """
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
        if parsed.drivername == "sqlite+aiosqlite":
            # the same driver adapter, with calls made inline (storage/sqlite_inline.py)
            import storage.sqlite_inline  # noqa: F401  (registers the dialect)

            url = parsed.set(drivername="sqlite+inline").render_as_string(hide_password=False)
    else:
        # No ping per checkout: on asyncpg it is three round trips (BEGIN, ";", ROLLBACK), a
        # quarter of a first message's. A connection the client already knows is closed is
        # swapped at checkout for nothing (_discard_closed); one that dies under a unit of work
        # is thrown away there (storage/uow.py), and the step runs again (intake/service.py).
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
    engine = create_async_engine(url, **options)
    if parsed.get_backend_name() != "sqlite":
        event.listen(engine.sync_engine, "checkout", _discard_closed)
    else:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if background_checkpoints:
            event.listen(engine.sync_engine, "connect", _no_autocheckpoint)
    return engine


def connection_lost(exc: BaseException) -> bool:
    """Did this fail because the database connection went away (server restarted, backend
    terminated, network gone), so that the same work on a new connection may succeed?"""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:  # the error, what caused it and what was being handled when it came
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (DisconnectionError, ConnectionError, *_ASYNCPG_LOST)):
            return True
        if isinstance(current, asyncpg.exceptions.InterfaceError) and (
            "connection is closed" in str(current)
        ):
            return True
        if isinstance(current, asyncpg.exceptions.InternalClientError) and (
            _ASYNCPG_BROKEN_STATE in str(current)
        ):
            return True
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout: a pooled asyncpg connection the server has closed (a restart, a
    terminated backend) is replaced by a new one; asking costs no round trip."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes SQLite's log keeps when it starts again from the top (it is truncated to this)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")  # the log after a burst
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no lazy reloads on the loop)."""
    return async_sessionmaker(engine, expire_on_commit=False)
