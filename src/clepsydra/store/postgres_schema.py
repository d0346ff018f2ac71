"""The PostgreSQL schema's version: migrating it, and checking it before serving.

Migration N (`migrations/postgres/NNNN_*.sql`) brings a database from version N-1 to N,
each in its own transaction (PostgreSQL's DDL is transactional, so a failed migration
leaves the previous version whole). Unlike the SQLite store, which migrates its own
file at open, a PostgreSQL database is shared by several processes and upgraded by an
operator: `clepsydra db migrate` runs the migrations, and a server refuses to start on
a schema that is behind.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: see factory.py
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    # A connection of its own, or one lent by a pool.
    Connection = asyncpg.Connection | PoolConnectionProxy

# Held while migrating, so that two `db migrate` at once run each migration once.
_MIGRATION_LOCK = 0x636C6570  # "clep"


DEFAULT_SHARDS = 16


class ShardCountFixed(RuntimeError):
    """`db migrate --shards N` on a database that has another number of shards."""


class SchemaBehind(RuntimeError):
    """The database needs `clepsydra db migrate` before this Clepsydra can use it."""


class SchemaAhead(RuntimeError):
    """The database was migrated by a newer Clepsydra."""


def postgres_migrations() -> list[str]:
    folder = resources.files("clepsydra.store.migrations").joinpath("postgres")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [folder.joinpath(name).read_text() for name in names]


def latest_version() -> int:
    return len(postgres_migrations())


async def schema_version(conn: Connection) -> int:
    """0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT version FROM schema_version")
    return int(version or 0)


async def migrate(conn: Connection, shards: int | None = None) -> tuple[int, int]:
    """Apply the migrations the database lacks; (version before, version after).
    `shards` sets the shard count of a new database (default DEFAULT_SHARDS); it cannot
    change afterwards, since executions are placed by it."""
    migrations = postgres_migrations()
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        before = await schema_version(conn)
        _check_not_ahead(before, len(migrations))
        for number, script in enumerate(migrations[before:], start=before + 1):
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                await conn.execute("DELETE FROM schema_version")
                await conn.execute("INSERT INTO schema_version VALUES ($1)", number)
        await _set_shard_count(conn, shards)
        return before, len(migrations)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


async def _set_shard_count(conn: Connection, wanted: int | None) -> None:
    count = await conn.fetchval("SELECT shard_count FROM cluster")
    if count is None:
        count = wanted or DEFAULT_SHARDS
        async with conn.transaction():
            await conn.execute("INSERT INTO cluster (shard_count) VALUES ($1)", count)
            await conn.executemany("INSERT INTO shards (shard_id) VALUES ($1)", [(n,) for n in range(count)])
    elif wanted is not None and wanted != count:
        raise ShardCountFixed(f"the database has {count} shards, set at its first migration; it keeps them")


async def check(conn: Connection, where: str) -> None:
    """Raise unless the schema is exactly the one this Clepsydra writes."""
    version, latest = await schema_version(conn), latest_version()
    _check_not_ahead(version, latest)
    if version < latest:
        state = "empty" if version == 0 else f"at schema version {version}"
        raise SchemaBehind(
            f"the database {where} is {state}; this Clepsydra needs version {latest}."
            f" Run `clepsydra db migrate --db-url {where}` first."
        )


def _check_not_ahead(version: int, latest: int) -> None:
    if version > latest:
        raise SchemaAhead(
            f"database schema version {version} is newer than this Clepsydra ({latest}); upgrade Clepsydra"
        )
