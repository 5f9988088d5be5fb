"""Hot statements run straight on the driver connection, inside the session's transaction.

Every inbound message runs the same handful of statements (store the raw message, find or
create the sender's identity, save the conversation, queue the reply...). Through SQLAlchemy's
async execution each cost far more than the database work itself: an execution context, a
result object and several greenlet switches per statement, most of a webhook's time. Here each
statement is compiled by SQLAlchemy once per dialect and set of columns (its SQL, the order of
its parameters, the types' bind and result processors, the columns' Python-side defaults) and
then run on the driver: ``sqlite3`` directly (our driver is inline, storage/sqlite_inline.py),
or asyncpg with its own prepared-statement cache. Same SQL, same type processing, same
transaction: the session commits or rolls back as before.

Only statements whose SQL and types are fixed belong here: ``run`` refuses what it cannot
compile to one positional statement (expanding ``IN`` lists, literal binds).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Build = Callable[[Callable[..., Any]], Executable]
"""Builds a statement, given the dialect's ``insert`` (for ON CONFLICT)."""
Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement for one dialect and set of given columns."""

    sql: str
    params: tuple[tuple[str, Processor | None], ...]
    """Each positional parameter: the key it is read from, and its type's bind processor."""
    defaults: tuple[tuple[str, Any], ...]
    """Columns left out that get their Python-side default: (key, ColumnDefault)."""
    results: tuple[Processor | None, ...]
    """A result processor per returned column (``()`` when nothing is returned)."""
    constants: dict[str, Any]
    """Parameters whose value the statement itself fixes, processed, by bind name."""


_COMPILED: dict[tuple[str, str, str, frozenset[str]], Compiled] = {}


def compile_once(dialect: Dialect, name: str, build: Build, keys: frozenset[str]) -> Compiled:
    """The statement ``name`` compiled for ``dialect`` and the given column ``keys``."""
    cache_key = (dialect.name, dialect.driver, name, keys)
    found = _COMPILED.get(cache_key)
    if found is None:
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        found = _COMPILED[cache_key] = _compile(build(insert), dialect, keys)
    return found


def _compile(statement: Executable, dialect: Dialect, keys: frozenset[str]) -> Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    fixed = not (compiled.literal_execute_params or compiled.post_compile_params)
    if compiled.positiontup is None or not fixed:
        raise ValueError("not a fixed positional statement; run it through the session")
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    defaults: list[tuple[str, Any]] = []
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        assert isinstance(column, Column)
        default = column.default if compiled.isinsert else column.onupdate
        if default is None or not (default.is_scalar or default.is_callable):
            raise ValueError(f"column {column.key} needs a default this module cannot compute")
        defaults.append((column.key, default))
    given = keys | {key for key, _ in defaults}
    params: list[tuple[str, Processor | None]] = []
    constants: dict[str, Any] = {}
    for name in compiled.positiontup:
        bind = by_name[name]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.key not in given:  # a value fixed in the statement (LIMIT 1, IS true...)
            value = bind.effective_value
            constants[name] = value if processor is None else processor(value)
            params.append((name, None))
        else:
            params.append((bind.key, processor))
    returned = getattr(statement, "exported_columns", ())
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
    )
    return Compiled(compiled.string, tuple(params), tuple(defaults), results, constants)


def _arguments(compiled: Compiled, values: Mapping[str, Any]) -> list[Any]:
    if compiled.defaults or compiled.constants:
        values = {**values, **compiled.constants}
        for key, default in compiled.defaults:
            values[key] = default.arg(None) if default.is_callable else default.arg
    return [
        values[key] if processor is None else processor(values[key])
        for key, processor in compiled.params
    ]


def _rows(compiled: Compiled, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    processors = compiled.results
    if not any(processors):
        return [tuple(row) for row in rows]
    return [
        tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
        for row in rows
    ]


@dataclass(slots=True)
class _Driver:
    transaction: object
    dialect: Dialect
    sqlite: sqlite3.Connection | None = None
    asyncpg: Any = None
    adapted: Any = None
    """SQLAlchemy's asyncpg adapter (its ``_transaction`` is None once rolled back)."""


async def _driver(session: AsyncSession) -> _Driver:
    """The driver connection under this session's current transaction (looked up once per
    transaction: a commit may hand the session another pooled connection)."""
    cached: _Driver | None = session.info.get("lean.driver")
    transaction = session.sync_session.get_transaction()
    if (
        cached is not None
        and transaction is not None
        and cached.transaction is transaction
        and transaction.is_active  # after a failed flush: SQLAlchemy raises, so must we
        and (cached.adapted is None or cached.adapted._transaction is not None)
    ):
        return cached
    connection = await session.connection()  # begins the session's transaction if need be
    transaction = session.sync_session.get_transaction()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    driver = _Driver(transaction, connection.dialect)
    if connection.dialect.name == "sqlite":
        inline = adapted.driver_connection  # type: ignore[union-attr]
        driver.sqlite = inline._connection
        if driver.sqlite is None:
            raise RuntimeError("the SQLite connection is closed")
    else:
        if getattr(adapted, "_transaction", None) is None:
            # SQLAlchemy's asyncpg adapter sends BEGIN before its first statement; ours may be
            # the first, so begin the adapter's transaction the way it would
            await adapted._start_transaction()  # type: ignore[union-attr]
        driver.asyncpg = adapted.driver_connection  # type: ignore[union-attr]
        driver.adapted = adapted
    session.info["lean.driver"] = driver
    return driver


async def run(
    session: AsyncSession, name: str, build: Build, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run the statement ``name`` (built by ``build`` once per dialect and set of keys) with
    ``values`` in the session's transaction; the rows it returns, processed by type."""
    driver = await _driver(session)
    compiled = compile_once(driver.dialect, name, build, frozenset(values))
    arguments = _arguments(compiled, values)
    if driver.sqlite is not None:
        cursor = driver.sqlite.execute(compiled.sql, arguments)
        try:
            rows = cursor.fetchall() if cursor.description is not None else []
        finally:
            cursor.close()
    else:
        rows = await driver.asyncpg.fetch(compiled.sql, *arguments)
    return _rows(compiled, rows)
