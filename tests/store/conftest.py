"""The store under test, once per backend: every test in this folder runs on SQLite and on
PostgreSQL. PostgreSQL tests share one fresh database per test run, emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clepsydra.store.postgres import PostgresStore
from clepsydra.store.sqlite import SqliteStore
from tests.postgres.database import fresh_database

# Every table but schema_version.
TABLES = [
    "namespaces",
    "executions",
    "current_executions",
    "history",
    "queue_tasks",
    "timers",
    "transfer_tasks",
    "executions_visibility",
    "custom_search_attributes",
    "batch_operations",
]


@pytest.fixture(scope="session")
async def postgres_store_url() -> AsyncIterator[str]:
    async with fresh_database("clepsydra_store") as url:
        migrating = PostgresStore(url, migrate=True)
        await migrating.open()
        await migrating.close()
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Either "sqlite" or the URL of the PostgreSQL test database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_store_url")
        return url
    return "sqlite"


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    if backend == "sqlite":
        s: Any = SqliteStore(str(tmp_path / "store.db"))
    else:
        conn = await asyncpg.connect(backend)
        try:
            # DELETE, not TRUNCATE: on tables this small it is many times faster.
            await conn.execute("; ".join(f"DELETE FROM {table}" for table in TABLES))
        finally:
            await conn.close()
        s = PostgresStore(backend, pool_size=4)
    await s.open()
    yield s
    await s.close()
