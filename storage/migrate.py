"""Run Alembic migrations from code (``intake db upgrade``) with no alembic.ini needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``. Blocking: call it from a thread inside a loop."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema down to ``revision`` (``base`` drops every table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration in the package."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or ""


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None if it has never been migrated."""
    engine = create_engine(url)

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read)
    finally:
        await engine.dispose()


def current_revision_blocking(url: str) -> str | None:
    """``current_revision`` for synchronous callers such as the CLI."""
    return asyncio.run(current_revision(url))
