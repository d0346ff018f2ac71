"""Pieces for several processes on one database: shard leases fencing writes, and word
of changes and backlogs from one store to another. Each "process" here is a store and a set of
leases of its own; a process's death is its lease's expiry, set in the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from clepsydra.engine.state import ExecutionKey
from clepsydra.store import postgres_schema
from clepsydra.store.base import ExecutionWrite
from clepsydra.store.postgres import PostgresStore
from clepsydra.store.postgres_shards import ShardLeases, ShardOwnershipLost, shard_count, shard_of
from tests.postgres.database import fresh_database
from tests.store.helpers import key, queue_task, start, timer, transfer

GUARD = 30.0  # only against hanging; nothing waits on a clock


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with fresh_database("clepsydra_cluster") as database:
        conn = await asyncpg.connect(database)
        try:
            await postgres_schema.migrate(conn, shards=4)
        finally:
            await conn.close()
        yield database


@pytest.fixture
async def stores(url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    a, b = PostgresStore(url, pool_size=2, member="a"), PostgresStore(url, pool_size=2, member="b")
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


async def expire(store: PostgresStore, owner: str) -> None:
    """What a dead process leaves: leases nobody renews, past their expiry."""
    await store.pool.execute(
        "UPDATE shards SET lease_expires = clock_timestamp() - interval '1 second' WHERE owner = $1", owner
    )
    await store.pool.execute(
        "UPDATE members SET expires = clock_timestamp() - interval '1 second' WHERE owner = $1", owner
    )


def leases(store: PostgresStore) -> ShardLeases:
    """The leases that fence a member store's writes."""
    assert store.leases is not None
    return store.leases


async def test_the_shard_count_is_set_at_the_first_migration_and_kept(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await shard_count(conn) == 4
        await postgres_schema.migrate(conn)  # again, without a count: unchanged
        with pytest.raises(postgres_schema.ShardCountFixed):
            await postgres_schema.migrate(conn, shards=8)
        assert await conn.fetchval("SELECT count(*) FROM shards") == 4
    finally:
        await conn.close()


def test_workflows_spread_over_the_shards() -> None:
    shards = [shard_of("ns", f"wf-{i}", 4) for i in range(400)]
    assert {shards.count(s) > 50 for s in range(4)} == {True}
    assert shard_of("ns", "wf-1", 4) == shard_of("ns", "wf-1", 4)


async def test_a_live_lease_keeps_its_shard_and_an_expired_one_is_taken_over(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    first, second = ShardLeases(a.pool, "a"), ShardLeases(b.pool, "b")
    lease = await first.acquire(0)
    assert lease is not None
    assert await second.acquire(0) is None
    assert await first.renew(lease)
    await expire(a, "a")
    taken = await second.acquire(0)
    assert taken is not None and taken.range_id == lease.range_id + 1
    assert not await first.renew(lease)  # the old owner learns it lost the shard
    assert first.held == {}


async def test_a_process_that_lost_its_shard_cannot_commit_even_before_it_knows(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    k = key()
    shard = shard_of(k.namespace_id, k.workflow_id, 4)
    leases_a, leases_b = leases(a), leases(b)
    await leases_a.acquire(shard)
    await a.commit(start(k))

    await expire(a, leases_a.owner)  # a pauses past its lease; b takes the shard over
    await leases_b.acquire(shard)
    with pytest.raises(ShardOwnershipLost):
        await a.commit(ExecutionWrite(k, b"from a", 1))  # a still believes it holds the lease
    await b.commit(ExecutionWrite(k, b"from b", 1))
    assert await b.get_execution(k) == (b"from b", 2)


async def test_processes_share_the_shards_and_take_over_those_of_a_dead_one(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    leases_a, leases_b = ShardLeases(a.pool, "a"), ShardLeases(b.pool, "b")
    await leases_a.balance()
    assert sorted(leases_a.held) == [0, 1, 2, 3]  # alone: all of them
    await leases_b.balance()  # b comes: a gives back half at its next round
    await leases_a.balance()
    await leases_b.balance()
    assert len(leases_a.held) == len(leases_b.held) == 2
    assert set(leases_a.held).isdisjoint(leases_b.held)
    await expire(a, "a")
    await leases_b.balance()
    assert sorted(leases_b.held) == [0, 1, 2, 3]
    await leases_b.leave()
    await leases_a.balance()  # back from its pause: all shards are free again
    assert sorted(leases_a.held) == [0, 1, 2, 3]


async def test_the_owner_hears_of_a_change_made_by_a_process_that_does_not_own_it(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    heard: asyncio.Queue[tuple[str, ExecutionKey]] = asyncio.Queue()
    await b.listen_executions(lambda origin, k: heard.put_nowait((origin, k)))
    leases_a = leases(a)
    k = key("wf\nwith a newline")
    await a.commit(start(k, queue_tasks=[queue_task(k, "q1", "orders")], timers=[timer(k, "t")]))
    async with asyncio.timeout(GUARD):
        assert await heard.get() == ("a", k)
    queue_tasks, timers, transfers = await b.load_tasks_of(k)
    assert [t.task_key for t in queue_tasks] == ["q1"]
    assert [t.task_key for t in timers] == ["t"]
    assert transfers == []

    await leases_a.acquire(shard_of(k.namespace_id, k.workflow_id, 4))
    await a.commit(ExecutionWrite(k, b"by its owner", 1))  # the owner tells nobody
    await a.commit(ExecutionWrite(k, b"again", 2))
    await asyncio.sleep(0.2)
    assert heard.empty()


async def test_backlog_announcements_reach_every_process(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    heard: asyncio.Queue[tuple[str, str, int, str]] = asyncio.Queue()
    await a.listen_backlog(lambda *announcement: heard.put_nowait(announcement))
    await b.listen_backlog(lambda *announcement: heard.put_nowait(announcement))
    await a.announce_backlog("ns", "orders\neu", 2, "host-a:7233")
    async with asyncio.timeout(GUARD):
        assert [await heard.get(), await heard.get()] == [("ns", "orders\neu", 2, "host-a:7233")] * 2


async def test_timers_and_transfers_load_by_shard(stores: tuple[PostgresStore, PostgresStore]) -> None:
    a, _ = stores
    keys = [key(f"wf-{i}") for i in range(12)]
    for k in keys:
        await a.commit(
            start(
                k,
                queue_tasks=[queue_task(k, "q", "tq")],
                timers=[timer(k, "t")],
                transfers=[transfer(k, "x")],
            )
        )
    for shard in range(4):
        mine = sorted(k.workflow_id for k in keys if shard_of(k.namespace_id, k.workflow_id, 4) == shard)
        assert sorted(t.key.workflow_id for t in await a.load_queue_tasks(shards=[shard])) == mine
        assert sorted(t.key.workflow_id for t in await a.load_timers(shards=[shard])) == mine
        assert sorted(t.key.workflow_id for t in await a.load_transfers(shards=[shard])) == mine
    assert len(await a.load_timers(shards=[0, 1, 2, 3])) == len(await a.load_timers()) == 12
    assert await a.load_transfers(shards=[]) == []


async def test_notices_flow_again_after_their_connection_is_cut(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    heard: asyncio.Queue[tuple[str, str, int, str]] = asyncio.Queue()
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    b.on_notices_resumed.append(on_resumed)
    await b.listen_backlog(lambda *announcement: heard.put_nowait(announcement))
    assert b.notices.server_pid is not None
    await a.pool.execute("SELECT pg_terminate_backend($1)", b.notices.server_pid)
    async with asyncio.timeout(GUARD):
        await resumed.wait()
        await a.announce_backlog("ns", "orders", 1, "host-a:7233")
        assert await heard.get() == ("ns", "orders", 1, "host-a:7233")
