"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL tests create a database with a unique name and drop it afterwards. Under CI=true an
unreachable PostgreSQL fails the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.migrate import upgrade
from storage.uow import Storage

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_unavailable() -> str | None:
    import asyncpg

    url = make_url(POSTGRES_ADMIN_URL)

    async def probe() -> None:
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            database=url.database,
            password=url.password,
            timeout=5,
        )
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {url.render_as_string()} is unreachable ({exc})"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; PostgreSQL tests are required under CI=true", pytrace=False)
        pytest.skip(f"{reason}; start it or set TEST_POSTGRES_URL to run the PostgreSQL tests")
    return POSTGRES_ADMIN_URL


async def _admin(admin_url: str, sql: str) -> None:
    """Run one statement on the administration database (CREATE or DROP DATABASE)."""
    import asyncpg

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        database=url.database,
        password=url.password,
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _create_database(admin_url: str) -> str:
    name = f"intake_test_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_database(admin_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    url = asyncio.run(_create_database(admin))
    try:
        yield url
    finally:
        asyncio.run(_drop_database(admin, url))


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A new database migrated to the latest schema."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    """Storage on a freshly migrated database, closed after the test."""
    store = Storage.from_url(database_url)
    try:
        yield store
    finally:
        await store.close()
