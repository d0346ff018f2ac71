"""Schema versions: migrating from any earlier version, refusing a schema behind or ahead."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from clepsydra.store import postgres_schema
from clepsydra.store.postgres import PostgresStore
from tests.postgres.database import fresh_database


async def test_an_older_schema_is_refused_until_migrated_and_migrating_is_idempotent() -> None:
    async with fresh_database("clepsydra_schema") as url:
        conn = await asyncpg.connect(url)
        try:
            first = postgres_schema.postgres_migrations()[0]
            async with conn.transaction():  # a database left at version 1 by an older Clepsydra
                await conn.execute(first)
                await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                await conn.execute("INSERT INTO schema_version VALUES (1)")
            with pytest.raises(postgres_schema.SchemaBehind, match="at schema version 1"):
                await PostgresStore(url).open()
            latest = postgres_schema.latest_version()
            assert await postgres_schema.migrate(conn) == (1, latest)
            assert await postgres_schema.migrate(conn) == (latest, latest)
            store = PostgresStore(url)
            await store.open()
            await store.close()

            await conn.execute("UPDATE schema_version SET version = $1", latest + 1)
            with pytest.raises(postgres_schema.SchemaAhead, match="upgrade Clepsydra"):
                await PostgresStore(url).open()
            with pytest.raises(postgres_schema.SchemaAhead):
                await postgres_schema.migrate(conn)
        finally:
            await conn.close()


async def test_concurrent_migrations_apply_each_step_once() -> None:
    async with fresh_database("clepsydra_schema") as url:
        conns = [await asyncpg.connect(url) for _ in range(3)]
        try:
            outcomes = await asyncio.gather(*(postgres_schema.migrate(c) for c in conns))
            latest = postgres_schema.latest_version()
            assert sorted(outcomes) == [(0, latest), (latest, latest), (latest, latest)]
            assert await conns[0].fetchval("SELECT count(*) FROM schema_version") == 1
        finally:
            for conn in conns:
                await conn.close()
