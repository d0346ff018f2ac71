"""What several processes on one database need from the PostgreSQL store: writes fenced
by shard leases, and word of new task-queue tasks from whichever process wrote them.

Both are off unless set up (`fence`, `notify_tasks`), so a single server process pays
nothing for them. Wiring them into the services (which process polls which queue,
which one fires which shard's timers) is the service layer's part; see docs/design.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import ExecutionWrite, StoredQueueTask
from clepsydra.store.postgres_shards import Lease, ShardOwnershipLost, check_fence

if TYPE_CHECKING:
    import asyncpg

    from clepsydra.store.postgres_schema import Connection

# NOTIFY channels, with JSON arrays as payloads (ids may hold any character). Tasks were
# committed to a task queue: [namespace id, queue]; an execution got new events or closed:
# [namespace id, workflow id, run id].
TASKS_CHANNEL = "clepsydra_tasks"
HISTORY_CHANNEL = "clepsydra_history"
TaskListener = Callable[[str, str], None]
HistoryListener = Callable[[ExecutionKey], None]


class PostgresCluster:
    # The lease a write of this execution must hold (None: this process does not own its
    # shard, and may not write it). No fence at all: writes are not fenced.
    fence: Callable[[ExecutionKey], Lease | None] | None = None
    notify_tasks: bool = False
    notify_history: bool = False

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError  # PostgresStore's

    _listener: asyncpg.Connection | None

    async def _before_write(self, conn: Connection, write: ExecutionWrite) -> None:
        if self.fence is None:
            return
        lease = self.fence(write.key)
        if lease is None:
            raise ShardOwnershipLost(f"this process does not own the shard of {write.key}")
        await check_fence(conn, lease)

    async def _after_write(self, conn: Connection, write: ExecutionWrite) -> None:
        """Still inside the transaction: PostgreSQL delivers the notices when it commits."""
        notices: list[tuple[str, str]] = []
        w: ExecutionWrite | None = write
        while w is not None:
            if self.notify_tasks:
                queues = sorted({(t.key.namespace_id, t.task_queue) for t in w.queue_tasks})
                notices += [(TASKS_CHANNEL, json.dumps([ns, queue])) for ns, queue in queues]
            if self.notify_history and (w.history_batch is not None or w.closed):
                k = w.key
                notices.append((HISTORY_CHANNEL, json.dumps([k.namespace_id, k.workflow_id, k.run_id])))
            w = w.successor
        for channel, payload in dict.fromkeys(notices):  # PostgreSQL folds duplicates too
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def listen_tasks(self, listener: TaskListener) -> None:
        """Call `listener(namespace_id, task_queue)` when any process commits tasks to a queue."""
        assert self._listener is not None, "store is not open"

        def received(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            namespace_id, task_queue = json.loads(str(payload))
            listener(namespace_id, task_queue)

        await self._listener.add_listener(TASKS_CHANNEL, received)

    async def listen_history(self, listener: HistoryListener) -> None:
        """Call `listener(key)` when any process commits events to an execution or closes it,
        so that history long polls anywhere wake up."""
        assert self._listener is not None, "store is not open"

        def received(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            listener(ExecutionKey(*json.loads(str(payload))))

        await self._listener.add_listener(HISTORY_CHANNEL, received)

    async def load_queue_tasks_of(self, namespace_id: str, task_queue: str) -> list[StoredQueueTask]:
        """The backlog of one task queue, oldest first."""
        rows = await self.pool.fetch(
            "SELECT namespace_id, workflow_id, run_id, task_key, task_queue, kind, data FROM queue_tasks"
            " WHERE namespace_id = $1 AND task_queue = $2 ORDER BY seq",
            namespace_id,
            task_queue,
        )
        return [StoredQueueTask(ExecutionKey(r[0], r[1], r[2]), r[3], r[4], r[5], r[6]) for r in rows]
