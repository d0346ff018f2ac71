"""The connection a PostgreSQL store listens on comes back after anything: cut again and
again (while it reconnects, while channels are added), and when what it runs on resuming
fails once. Notices sent afterwards arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from clepsydra.store import postgres_schema
from clepsydra.store.postgres import PostgresStore
from tests.postgres.database import fresh_database

GUARD = 30.0  # only against hanging


@pytest.fixture
async def store() -> AsyncIterator[PostgresStore]:
    async with fresh_database("clepsydra_notices") as url:
        conn = await asyncpg.connect(url)
        try:
            await postgres_schema.migrate(conn, shards=2)
        finally:
            await conn.close()
        store = PostgresStore(url, pool_size=2)
        await store.open()
        yield store
        await store.close()


async def _cut(store: PostgresStore) -> None:
    pid = store.notices.server_pid
    if pid is not None:
        await store.pool.execute("SELECT pg_terminate_backend($1)", pid)


async def test_notices_arrive_after_the_connection_is_cut_again_and_again(store: PostgresStore) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    failures = [RuntimeError("the first resumption fails")]

    async def on_resumed() -> None:
        if failures:
            raise failures.pop()

    store.on_notices_resumed.append(on_resumed)
    async with asyncio.timeout(GUARD):
        for n in range(6):
            await _cut(store)
            await asyncio.sleep(0.01 * n)  # sometimes while it reconnects, sometimes after
            await store._listen(f"extra_{n}", lambda *notice: heard.put_nowait(str(notice[2])))
        await _cut(store)
        while not (store.notices.listening.is_set() and store.notices.server_pid is not None):
            await asyncio.sleep(0.05)
        # Resumed (the failure made it connect once more) and listening on every channel.
        assert store.notices.reconnections >= 2 and not failures
        for n in range(6):
            await store.pool.execute("SELECT pg_notify($1, 'x')", f"extra_{n}")
        assert sorted([await heard.get() for _ in range(6)]) == [f"extra_{n}" for n in range(6)]
