"""What several processes on one database need from the PostgreSQL store: writes fenced
by shard leases, word to an execution's owner when another process changed it, and word
of task-queue backlogs waiting on some process for a poller.

All of it is off unless the store was opened as one of several processes (`member`), so a
single server process pays nothing for it.
Which process owns what, and what it does with the notices, is the cluster layer's part
(`clepsydra.cluster`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from clepsydra.engine.codec import from_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import ExecutionWrite, StoredQueueTask, StoredTimer, StoredTransfer
from clepsydra.store.postgres_shards import ShardLeases, check_fence

if TYPE_CHECKING:
    import asyncpg

    from clepsydra.store.postgres_schema import Connection

# NOTIFY channels, with JSON arrays as payloads (ids may hold any character). An execution
# was changed by a process that does not own its shard: [origin, namespace id, workflow id,
# run id]; tasks wait on a process for a poller: [namespace id, task queue, kind, address].
EXECUTIONS_CHANNEL = "clepsydra_executions"
BACKLOG_CHANNEL = "clepsydra_backlog"
ExecutionListener = Callable[[str, ExecutionKey], None]
BacklogListener = Callable[[str, str, int, str], None]


class PostgresCluster:
    # This process's shard leases, which fence its writes; None for a single process, whose
    # writes are neither fenced nor announced.
    leases: ShardLeases | None = None
    # This process's name in the notices it sends (so that it can ignore its own).
    origin: str = ""
    shard_count: int

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError  # PostgresStore's

    async def _listen(self, channel: str, notice: Callable[[object, int, str, object], None]) -> None:
        raise NotImplementedError  # PostgresStore's: LISTEN, again after a reconnection

    async def _before_write(self, conn: Connection, write: ExecutionWrite) -> bool:
        """Fence the write of a shard's owner; True for a write by a process that does not
        own the shard (its owner must hear of it, see `_tell_owner`)."""
        if self.leases is None:
            return False
        lease = self.leases.lease_for(write.key, self.shard_count)
        if lease is None:
            return True
        await check_fence(conn, lease)
        return False

    async def _tell_owner(self, conn: Connection, write: ExecutionWrite) -> None:
        """Still inside the transaction: PostgreSQL delivers the notice when it commits."""
        w: ExecutionWrite | None = write
        while w is not None:
            k = w.key
            payload = json.dumps([self.origin, k.namespace_id, k.workflow_id, k.run_id])
            await conn.execute("SELECT pg_notify($1, $2)", EXECUTIONS_CHANNEL, payload)
            w = w.successor

    async def listen_executions(self, listener: ExecutionListener) -> None:
        """Call `listener(origin, key)` when a process commits a change to an execution whose
        shard it does not own."""

        def received(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            origin, *key = json.loads(str(payload))
            listener(origin, ExecutionKey(*key))

        await self._listen(EXECUTIONS_CHANNEL, received)

    async def announce_backlog(self, namespace_id: str, task_queue: str, kind: int, address: str) -> None:
        """Tell every process that tasks of this queue wait at `address` for a poller."""
        payload = json.dumps([namespace_id, task_queue, kind, address])
        await self.pool.execute("SELECT pg_notify($1, $2)", BACKLOG_CHANNEL, payload)

    async def listen_backlog(self, listener: BacklogListener) -> None:
        """Call `listener(namespace_id, task_queue, kind, address)` for each announcement."""

        def received(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            namespace_id, task_queue, kind, address = json.loads(str(payload))
            listener(namespace_id, task_queue, kind, address)

        await self._listen(BACKLOG_CHANNEL, received)

    async def load_tasks_of(
        self, key: ExecutionKey
    ) -> tuple[list[StoredQueueTask], list[StoredTimer], list[StoredTransfer]]:
        """The pending tasks of one execution: what its owner indexes after another process
        changed it."""
        args = (key.namespace_id, key.workflow_id, key.run_id)
        where = "WHERE namespace_id = $1 AND workflow_id = $2 AND run_id = $3"
        queue = await self.pool.fetch(
            f"SELECT task_key, task_queue, kind, data FROM queue_tasks {where}", *args
        )
        timers = await self.pool.fetch(f"SELECT task_key, fire_time, data FROM timers {where}", *args)
        transfers = await self.pool.fetch(
            f"SELECT task_key, data FROM transfer_tasks {where} ORDER BY seq", *args
        )
        return (
            [StoredQueueTask(key, r[0], r[1], r[2], r[3]) for r in queue],
            [StoredTimer(key, r[0], from_micros(r[1]), r[2]) for r in timers],
            [StoredTransfer(key, r[0], r[1]) for r in transfers],
        )
