"""The unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.checkpoint import WalCheckpointer
from storage.database import connection_lost, create_engine, create_session_factory
from storage.repositories import (
    ActionRepository,
    AuditRepository,
    CaseRepository,
    ConversationRepository,
    InboundRepository,
    OfficerRepository,
    OutboxRepository,
    PeopleRepository,
    Written,
)


class WriteGate:
    """One writer at a time, for SQLite, queued fairly on the event loop.

    SQLite allows one writer; without this, concurrent transactions spin in SQLite's busy
    handler (sleeping up to 100 ms between tries) and throughput collapses under load. The
    gate is re-entrant within one task, so a unit of work opened inside another never waits
    for itself. PostgreSQL needs no gate.
    """

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0

    async def acquire(self) -> None:
        """Wait for the gate (at once if this task already holds it)."""
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            self._depth += 1
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    def release(self) -> None:
        """Leave the gate."""
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            assert self._lock is not None
            self._lock.release()


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriteGate]] = (
    weakref.WeakKeyDictionary()
)


def _gate_for(engine: AsyncEngine, own: WriteGate) -> WriteGate:
    """The write gate of this SQLite file on this event loop, shared by every Storage that
    opens it (SQLite calls run on the loop's thread, so two Storages writing the same file
    must not wait on each other's lock there)."""
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return own  # private to this engine
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return own
    gates = _GATES.get(loop)
    if gates is None:
        gates = _GATES[loop] = {}
    gate = gates.get(database)
    if gate is None:  # first use of this path: share the gate of the same file
        key = os.path.realpath(database)
        gate = gates[database] = gates.setdefault(key, WriteGate())
    return gate


class UnitOfWork:
    """Repositories sharing one transaction. Commits on a clean exit, rolls back on error."""

    def __init__(self, session: AsyncSession, gate: WriteGate | None = None) -> None:
        self.session = session
        self._gate = gate
        self.people = PeopleRepository(session)
        self.cases = CaseRepository(session)
        self.inbound = InboundRepository(session)
        self.written = Written()
        """What this unit of work queued (outbox messages, follow-ups' earliest due time)."""
        self.outbox = OutboxRepository(session, self.written)
        self.actions = ActionRepository(session, self.written)
        self.officers = OfficerRepository(session)
        self.conversations = ConversationRepository(session)
        self.audit = AuditRepository(session)

    async def commit(self) -> None:
        """Commit now (the context manager also commits on a clean exit)."""
        await self.session.commit()

    async def rollback(self) -> None:
        """Throw away everything since the last commit."""
        await self.session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        if self._gate is not None:
            await self._gate.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            elif exc is not None and connection_lost(exc):
                # the connection is gone or its client state is broken: never back in the
                # pool (a rollback on it could fail, or seem to work and leave it unusable)
                await self.session.invalidate()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()
            if self._gate is not None:
                self._gate.release()


class Storage:
    """The database: an engine and a factory of units of work."""

    def __init__(self, engine: AsyncEngine, *, checkpointer: WalCheckpointer | None = None) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = create_session_factory(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        self._own_gate = WriteGate()
        self.checkpointer = checkpointer
        if checkpointer is not None and checkpointer.writers_wait is None:
            checkpointer.writers_wait = self._holding_writers

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        background_checkpoints: bool = False,
    ) -> Storage:
        """Storage for a SQLAlchemy URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

        ``background_checkpoints`` (a long-running process on a SQLite file): the log is
        checkpointed in a worker thread, never by a commit on the event loop.
        """
        engine = create_engine(
            url, echo=echo, pool_size=pool_size, background_checkpoints=background_checkpoints
        )
        database = engine.url.database or ""
        checkpointer = None
        if (
            background_checkpoints
            and engine.dialect.name == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
        ):
            checkpointer = WalCheckpointer(database)
        return cls(engine, checkpointer=checkpointer)

    @asynccontextmanager
    async def _holding_writers(self) -> AsyncIterator[None]:
        """This file's write gate, held (the checkpointer copies the log meanwhile)."""
        gate = _gate_for(self.engine, self._own_gate)
        await gate.acquire()
        try:
            yield
        finally:
            gate.release()

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work: ``async with storage.unit_of_work() as uow: ...``."""
        if self.checkpointer is not None:
            self.checkpointer.start()  # on the first use, on the loop that uses it
        gate = _gate_for(self.engine, self._own_gate) if self._sqlite else None
        return UnitOfWork(self._sessions(), gate)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A plain session for read-only queries."""
        async with self._sessions() as session:
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot be reached (for /healthz)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection (after a last checkpoint, if this Storage runs them)."""
        await self.engine.dispose()
        if self.checkpointer is not None:
            await self.checkpointer.stop()
