"""Throw-away PostgreSQL databases for the benchmarks (created with a unique name, dropped
afterwards). The admin connection is ``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else
the local ``test`` database."""

from __future__ import annotations

import os
import uuid

import asyncpg
from sqlalchemy.engine import make_url

POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)


async def _admin(sql: str) -> None:
    admin = make_url(POSTGRES_ADMIN)
    connection = await asyncpg.connect(
        host=admin.host,
        port=admin.port or 5432,
        user=admin.username,
        password=admin.password,
        database=admin.database,
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_postgres(prefix: str) -> str:
    """A new empty database named ``<prefix>_<random>``; its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)


async def drop_postgres(url: str) -> None:
    """Drop a database made by :func:`create_postgres`, closing its connections."""
    await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
