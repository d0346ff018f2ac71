"""Which process owns which workflows, among several sharing one PostgreSQL database.

A workflow id belongs to a shard, and a shard to at most one live process at a time,
through a lease in the database (`store/postgres_shards.py`; the store holds this
process's leases and fences its writes with them). The owner of a shard keeps its
executions' state cached, fires their timers, runs their transfers and dispatches their
task-queue tasks; other processes forward requests for them to it. A process alone on its
database needs none of this (`history.ownership.SingleOwner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

from clepsydra.engine.state import ExecutionKey
from clepsydra.store.postgres_shards import ShardLeases, shard_of

log = logging.getLogger(__name__)
# A dead process's shards are taken over within LEASE_SECONDS + BALANCE_SECONDS.
BALANCE_SECONDS = 1.0

ShardsChanged = Callable[[Collection[int]], Awaitable[None]]


class SharedMembership:
    """One of several processes on a PostgreSQL database, holding a share of the shards."""

    def __init__(self, leases: ShardLeases, shard_count: int, address: str) -> None:
        self.leases = leases
        self.shard_count = shard_count
        self.address = address
        self._owners: dict[int, str] = {}  # shard → address of its live owner
        self._loop: asyncio.Task[None] | None = None
        self._loaded: set[int] = set()  # the shards whose tasks the history has loaded
        self._acquired: ShardsChanged | None = None
        self._released: ShardsChanged | None = None

    def shard(self, namespace_id: str, workflow_id: str) -> int:
        return shard_of(namespace_id, workflow_id, self.shard_count)

    def owns(self, namespace_id: str, workflow_id: str) -> bool:
        return self.shard(namespace_id, workflow_id) in self.leases.held

    def held_shards(self) -> list[int]:
        return sorted(self.leases.held)

    def owner_elsewhere(self, namespace_id: str, workflow_id: str) -> str | None:
        """The address of the live process that owns the workflow, if it is not this one."""
        shard = self.shard(namespace_id, workflow_id)
        if shard in self.leases.held:
            return None
        owner = self._owners.get(shard)
        return owner if owner != self.address else None

    def others(self) -> set[str]:
        """The addresses of the other live processes that own shards."""
        return set(self._owners.values()) - {self.address}

    @property
    def leader(self) -> bool:
        """Whether this process runs the jobs that one process at a time must run
        (retention, batch operations, namespace deletion)."""
        return 0 in self.leases.held

    def lost(self, key: ExecutionKey) -> None:
        shard = self.shard(key.namespace_id, key.workflow_id)
        self.leases.held.pop(shard, None)
        self._loaded.discard(shard)  # if it comes back, what others did meanwhile is loaded again

    async def start(self, acquired: ShardsChanged, released: ShardsChanged) -> None:
        """Take a share of the shards and keep it even; `acquired` loads what a shard taken
        holds, `released` forgets what a shard given up held."""
        self._acquired, self._released = acquired, released
        await self._balance()
        self._loop = asyncio.create_task(self._run(), name="shard-leases")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        with contextlib.suppress(Exception):
            await self.leases.leave()  # the others take the shards over now, not at expiry

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(BALANCE_SECONDS)
            try:
                await self._balance()
            except Exception:
                log.exception("could not renew or rebalance shard leases")

    async def _balance(self) -> None:
        await self.leases.balance()
        rows = await self.leases.pool.fetch(
            "SELECT shard_id, owner FROM shards WHERE lease_expires > clock_timestamp()"
        )
        self._owners = {row["shard_id"]: row["owner"].split(" ")[0] for row in rows}
        await self._sync()

    async def _sync(self) -> None:
        """Tell the history what it gained and lost since the last time; a shard counts as
        taken only once its tasks are loaded, so a failed load is tried again next round."""
        assert self._acquired is not None and self._released is not None
        held = set(self.leases.held)
        gone = self._loaded - held
        if gone:
            log.info("gave up shards %s", sorted(gone))
            self._loaded -= gone
            await self._released(gone)
        new = held - self._loaded
        if new:
            log.info("owns shards %s", sorted(new))
            await self._acquired(new)
            self._loaded |= new
