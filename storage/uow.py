"""The unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.database import create_engine, create_session_factory
from storage.repositories import (
    ActionRepository,
    AuditRepository,
    CaseRepository,
    ConversationRepository,
    InboundRepository,
    OfficerRepository,
    OutboxRepository,
    PeopleRepository,
)


class UnitOfWork:
    """Repositories sharing one transaction. Commits on a clean exit, rolls back on error."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.people = PeopleRepository(session)
        self.cases = CaseRepository(session)
        self.inbound = InboundRepository(session)
        self.outbox = OutboxRepository(session)
        self.actions = ActionRepository(session)
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
            else:
                await self.session.rollback()
        finally:
            await self.session.close()


class Storage:
    """The database: an engine and a factory of units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = create_session_factory(engine)

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False, pool_size: int = 10) -> Storage:
        """Storage for a SQLAlchemy URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
        return cls(create_engine(url, echo=echo, pool_size=pool_size))

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work: ``async with storage.unit_of_work() as uow: ...``."""
        return UnitOfWork(self._sessions())

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
        """Close every pooled connection."""
        await self.engine.dispose()
