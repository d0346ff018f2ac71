"""Shard leases: which process may write which executions, fenced by range ids.

Executions hash into `shard_count` shards by (namespace id, workflow id), so all runs of
a workflow id share a shard. A process owns a shard while it holds the lease in the
shard's row: acquiring takes a free or expired lease and increments `range_id`; the
owner renews before expiry. Expiry is decided by the database's clock, never by a
process's, so clock skew between machines cannot give a shard two owners.

The lease alone does not make writes safe (a process may pause past its expiry and then
commit); the fence does. Every commit of an owner locks the shard's row FOR SHARE and
checks that `range_id` is the one it acquired, in the same transaction as the write. A
process that acquires the shard afterwards waits for that lock, so a write either
commits before the takeover or fails with ShardOwnershipLost after it, never between.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import ShardOwnershipLost

if TYPE_CHECKING:  # not imported at run time: see factory.py
    import asyncpg

    from clepsydra.store.postgres_schema import Connection


# How long a lease lasts unless renewed: a dead process's shards are free after this long.
LEASE_SECONDS = 5.0


@dataclass(frozen=True)
class Lease:
    shard_id: int
    range_id: int


def shard_of(namespace_id: str, workflow_id: str, shard_count: int) -> int:
    """The shard of a workflow id; stable across processes, machines and Python versions."""
    return zlib.crc32(f"{namespace_id}\x00{workflow_id}".encode()) % shard_count


async def shard_count(conn: Connection | asyncpg.Pool) -> int:
    count = await conn.fetchval("SELECT shard_count FROM cluster")
    if count is None:
        raise RuntimeError("the database has no shards yet: run `clepsydra db migrate`")
    return int(count)


async def check_fence(conn: Connection, lease: Lease) -> None:
    """Inside a write's transaction: raise unless `lease` is still the shard's current one."""
    current = await conn.fetchval("SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE", lease.shard_id)
    if current != lease.range_id:
        raise ShardOwnershipLost(f"shard {lease.shard_id} is now at range {current}, not {lease.range_id}")


class ShardLeases:
    """One process's leases. `owner` names the process (unique per process start)."""

    def __init__(self, pool: asyncpg.Pool, owner: str, ttl_seconds: float = 10.0) -> None:
        self.pool = pool
        self.owner = owner
        self.ttl = ttl_seconds
        self.held: dict[int, Lease] = {}

    async def acquire(self, shard_id: int) -> Lease | None:
        """Take the shard if it is free, expired or already ours; None if another process holds it."""
        range_id = await self.pool.fetchval(
            "UPDATE shards SET owner = $2, range_id = range_id + 1,"
            " lease_expires = clock_timestamp() + make_interval(secs => $3)"
            " WHERE shard_id = $1 AND (owner IS NULL OR owner = $2 OR lease_expires < clock_timestamp())"
            " RETURNING range_id",
            shard_id,
            self.owner,
            self.ttl,
        )
        if range_id is None:
            self.held.pop(shard_id, None)
            return None
        lease = self.held[shard_id] = Lease(shard_id, range_id)
        return lease

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease; False (and forgotten) if it was taken over meanwhile."""
        status = await self.pool.execute(
            "UPDATE shards SET lease_expires = clock_timestamp() + make_interval(secs => $4)"
            " WHERE shard_id = $1 AND range_id = $2 AND owner = $3",
            lease.shard_id,
            lease.range_id,
            self.owner,
            self.ttl,
        )
        if status != "UPDATE 1":
            self.held.pop(lease.shard_id, None)
            return False
        return True

    async def leave(self) -> None:
        """On a clean stop: release every shard and leave the members, for others to rebalance now."""
        for lease in list(self.held.values()):
            await self.release(lease)
        await self.pool.execute("DELETE FROM members WHERE owner = $1", self.owner)

    async def release(self, lease: Lease) -> None:
        """Give the shard up at once (on a clean stop), rather than when the lease expires."""
        await self.pool.execute(
            "UPDATE shards SET owner = NULL, lease_expires = NULL WHERE shard_id = $1 AND range_id = $2",
            lease.shard_id,
            lease.range_id,
        )
        self.held.pop(lease.shard_id, None)

    async def balance(self) -> None:
        """Renew what is held, then move toward an equal share of the shards among the
        processes whose leases are live: take free or expired shards up to that share,
        give back what is above it so that a newcomer gets its part."""
        await self.pool.execute(
            "INSERT INTO members (owner, expires) VALUES ($1, clock_timestamp() + make_interval(secs => $2))"
            " ON CONFLICT (owner) DO UPDATE SET expires = EXCLUDED.expires",
            self.owner,
            self.ttl,
        )
        for lease in list(self.held.values()):
            await self.renew(lease)
        members = await self.pool.fetchval("SELECT count(*) FROM members WHERE expires > clock_timestamp()")
        rows = await self.pool.fetch(
            "SELECT shard_id, lease_expires > clock_timestamp() AS live FROM shards ORDER BY shard_id"
        )
        share = -(-len(rows) // max(1, members))  # ceiling
        for row in rows:
            if len(self.held) >= share:
                break
            if not row["live"] and row["shard_id"] not in self.held:
                await self.acquire(row["shard_id"])
        for shard_id in sorted(self.held)[share:]:
            await self.release(self.held[shard_id])

    def lease_for(self, key: ExecutionKey, count: int) -> Lease | None:
        """The lease that fences writes to the execution, if this process holds its shard."""
        return self.held.get(shard_of(key.namespace_id, key.workflow_id, count))
