"""Migrations build the whole schema from empty and take it down cleanly, on both databases."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.database import create_engine
from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import Base


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def _schema_differences(url: str) -> list[object]:
    engine = create_engine(url)

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_creates_every_table(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _tables(empty_database_url) == set(Base.metadata.tables)
    assert await current_revision(empty_database_url) == head_revision()


async def test_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _schema_differences(empty_database_url) == []


async def test_downgrade_removes_everything_and_upgrade_again_works(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    await asyncio.to_thread(downgrade, empty_database_url, "base")
    assert await _tables(empty_database_url) == set()
    assert await current_revision(empty_database_url) is None
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _tables(empty_database_url) == set(Base.metadata.tables)
