"""PostgreSQL store: a pool of asyncpg connections, one transaction per state change.

The same interface and the same rules as the SQLite store (`sqlite.py`): a write applies
only to the version it was computed from (`expected_version`, 0 creating the
execution), a change of the current run only if the run it names is still current,
and a write whose condition fails changes nothing and raises ConditionFailed. There is
no group commit here: each commit is its own transaction on its own connection, and
PostgreSQL shares the WAL flush of transactions that commit together.

Several processes may share the database, so nothing read is trusted across
transactions except the custom search attribute columns, whose cache is dropped when
any process changes them (LISTEN/NOTIFY on `CHANGES_CHANNEL`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from clepsydra.engine.codec import from_micros, to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import ConditionFailed
from clepsydra.store import postgres_schema
from clepsydra.store.base import (
    CurrentExecution,
    CurrentWrite,
    ExecutionWrite,
    NamespaceRecord,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
)
from clepsydra.store.factory import redact
from clepsydra.store.postgres_admin import PostgresAdmin
from clepsydra.store.postgres_batch import PostgresBatch
from clepsydra.store.postgres_cluster import PostgresCluster
from clepsydra.store.postgres_notices import Notice, NoticeListener
from clepsydra.store.postgres_shards import LEASE_SECONDS, ShardLeases, shard_count, shard_of
from clepsydra.store.postgres_visibility import CHANGES_CHANNEL, PostgresVisibility

if TYPE_CHECKING:
    from clepsydra.store.postgres_schema import Connection

_KEY = "namespace_id = $1 AND workflow_id = $2 AND run_id = $3"
log = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 5.0


def _key(key: ExecutionKey) -> tuple[str, str, str]:
    return (key.namespace_id, key.workflow_id, key.run_id)


class PostgresStore(PostgresVisibility, PostgresAdmin, PostgresBatch, PostgresCluster):
    shared = True  # several processes may serve from one database

    def __init__(
        self, url: str, *, migrate: bool = False, pool_size: int = 10, member: str | None = None
    ) -> None:
        """`url`: postgresql://user[:password]@host[:port]/database. With `migrate`, open()
        brings the schema up to date; without, it refuses a schema that is behind.
        `member`: the address of this process when it is one of several on the database:
        its writes are then fenced by the shard leases it holds (`leases`), and announced
        to the owners of the shards it does not hold."""
        self._url = url
        self._member = member
        self.origin = member or ""
        self._migrate = migrate
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        # Called once notices flow again after their connection was lost: those sent meanwhile
        # are gone, so what they would have said must be learnt again.
        self.on_notices_resumed: list[Callable[[], Awaitable[None]]] = []
        # A connection of its own for LISTEN, made again whenever it is lost.
        self.notices = NoticeListener(url, self.on_notices_resumed)
        self._custom_columns: dict[str, dict[str, str]] = {}
        self.shard_count = 1  # read from the database at open

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "store is not open"
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._url, min_size=min(2, self._pool_size), max_size=self._pool_size
        )
        try:
            async with self.pool.acquire() as conn:
                if self._migrate:
                    await postgres_schema.migrate(conn)
                else:
                    await postgres_schema.check(conn, redact(self._url))
                self.shard_count = await shard_count(conn)
            if self._member is not None:
                # A nonce after the address: a restarted process on the same address is a new owner.
                self.leases = ShardLeases(self.pool, f"{self._member} {uuid.uuid4().hex[:8]}", LEASE_SECONDS)
            await self.notices.start([(CHANGES_CHANNEL, self._on_change)])
        except BaseException:
            await self.close()
            raise

    async def _listen(self, channel: str, notice: Notice) -> None:
        await self.notices.listen(channel, notice)

    def _on_change(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._custom_columns.pop(str(payload), None)

    async def close(self) -> None:
        await self.notices.close()
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), 10)
            except Exception:  # connections that will not close in time are cut
                self._pool.terminate()
            self._pool = None

    async def probe(self) -> None:
        """A write, committed like any other: raises if the database cannot be written now."""
        async with self.pool.acquire(timeout=PROBE_TIMEOUT_SECONDS) as conn, conn.transaction():
            await conn.execute("UPDATE schema_version SET version = version")

    def check_file(self) -> None:
        """Nothing to check: the database is the server's, not a file of this process's."""

    # -- namespaces -------------------------------------------------------------------------

    async def create_namespace(self, record: NamespaceRecord) -> bool:
        status = await self.pool.execute(
            "INSERT INTO namespaces (id, name, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            record.id,
            record.name,
            record.data,
        )
        return bool(status == "INSERT 0 1")

    async def get_namespace(self, name: str) -> NamespaceRecord | None:
        row = await self.pool.fetchrow("SELECT id, name, data FROM namespaces WHERE name = $1", name)
        return NamespaceRecord(row[0], row[1], row[2]) if row else None

    async def list_namespaces(self) -> list[NamespaceRecord]:
        rows = await self.pool.fetch('SELECT id, name, data FROM namespaces ORDER BY name COLLATE "C"')
        return [NamespaceRecord(r[0], r[1], r[2]) for r in rows]

    # -- executions -------------------------------------------------------------------------

    async def get_current_execution(self, namespace_id: str, workflow_id: str) -> CurrentExecution | None:
        row = await self.pool.fetchrow(
            "SELECT run_id, first_run_id, status, start_request_id FROM current_executions"
            " WHERE namespace_id = $1 AND workflow_id = $2",
            namespace_id,
            workflow_id,
        )
        return CurrentExecution(row[0], row[1], row[2], row[3]) if row else None

    async def get_execution(self, key: ExecutionKey) -> tuple[bytes, int] | None:
        row = await self.pool.fetchrow(f"SELECT state, db_version FROM executions WHERE {_KEY}", *_key(key))
        return (row[0], row[1]) if row else None

    async def read_history(self, key: ExecutionKey, first_event_id: int) -> list[tuple[int, bytes]]:
        """Batches that may hold events from `first_event_id` on, in order."""
        rows = await self.pool.fetch(
            f"SELECT first_event_id, events FROM history WHERE {_KEY} AND first_event_id >= COALESCE("
            f"(SELECT MAX(first_event_id) FROM history WHERE {_KEY} AND first_event_id <= $4), $4)"
            " ORDER BY first_event_id",
            *_key(key),
            first_event_id,
        )
        return [(r[0], r[1]) for r in rows]

    # -- commits ----------------------------------------------------------------------------

    async def commit(self, write: ExecutionWrite) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                foreign = await self._before_write(conn, write)
                await self._apply(conn, write)
                if foreign:
                    await self._tell_owner(conn, write)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.TransactionRollbackError) as error:
            # A row the write creates exists already (someone else got there first), or the
            # database chose this transaction to undo (a deadlock): either way nothing changed.
            raise ConditionFailed(str(error)) from None

    async def _apply(self, conn: Connection, w: ExecutionWrite) -> None:
        """The statements of one write, in the SQLite store's order."""
        key = _key(w.key)
        shard = shard_of(w.key.namespace_id, w.key.workflow_id, self.shard_count)
        if w.expected_version == 0:
            await conn.execute(
                "INSERT INTO executions (namespace_id, workflow_id, run_id, state, db_version)"
                " VALUES ($1, $2, $3, $4, 1)",
                *key,
                w.state,
            )
        else:
            status = await conn.execute(
                f"UPDATE executions SET state = $4, db_version = db_version + 1"
                f" WHERE {_KEY} AND db_version = $5",
                *key,
                w.state,
                w.expected_version,
            )
            if status != "UPDATE 1":
                raise ConditionFailed(f"{w.key} changed since version {w.expected_version}")
        if w.current is not None:
            await _write_current(conn, w.key, w.current)
        if w.history_batch is not None:
            await conn.execute(
                "INSERT INTO history (namespace_id, workflow_id, run_id, first_event_id, events)"
                " VALUES ($1, $2, $3, $4, $5)",
                *key,
                *w.history_batch,
            )
        if w.closed:
            await conn.execute(f"DELETE FROM queue_tasks WHERE {_KEY}", *key)
            await conn.execute(f"DELETE FROM timers WHERE {_KEY}", *key)
        for table, task_key in (
            ("queue_tasks", w.done_queue_task),
            ("transfer_tasks", w.done_transfer),
            ("timers", w.done_timer),
        ):
            if task_key is not None:
                await conn.execute(f"DELETE FROM {table} WHERE {_KEY} AND task_key = $4", *key, task_key)
        if w.visibility is not None:
            await self._upsert_visibility(conn, w.visibility)
        if w.transfers:
            await conn.executemany(
                "INSERT INTO transfer_tasks (namespace_id, workflow_id, run_id, task_key, data, shard_id)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (namespace_id, workflow_id, run_id, task_key)"
                " DO UPDATE SET data = EXCLUDED.data, seq = DEFAULT",
                [(*_key(t.key), t.task_key, t.data, shard) for t in w.transfers],
            )
        if w.successor is not None:
            await self._apply(conn, w.successor)
        if w.queue_tasks:
            await conn.executemany(
                "INSERT INTO queue_tasks"
                " (namespace_id, workflow_id, run_id, task_key, task_queue, kind, data, shard_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (namespace_id, workflow_id, run_id, task_key) DO UPDATE SET"
                " task_queue = EXCLUDED.task_queue, kind = EXCLUDED.kind, data = EXCLUDED.data,"
                " seq = DEFAULT",
                [(*_key(t.key), t.task_key, t.task_queue, t.kind, t.data, shard) for t in w.queue_tasks],
            )
        if w.timers:
            await conn.executemany(
                "INSERT INTO timers (namespace_id, workflow_id, run_id, task_key, fire_time, data, shard_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (namespace_id, workflow_id, run_id, task_key)"
                " DO UPDATE SET fire_time = EXCLUDED.fire_time, data = EXCLUDED.data",
                [(*_key(t.key), t.task_key, to_micros(t.fire_time), t.data, shard) for t in w.timers],
            )

    # -- tasks ------------------------------------------------------------------------------

    async def delete_timer(self, key: ExecutionKey, task_key: str) -> None:
        await self._delete("timers", key, task_key)

    async def delete_queue_task(self, key: ExecutionKey, task_key: str) -> None:
        await self._delete("queue_tasks", key, task_key)

    async def delete_transfer(self, key: ExecutionKey, task_key: str) -> None:
        await self._delete("transfer_tasks", key, task_key)

    async def _delete(self, table: str, key: ExecutionKey, task_key: str) -> None:
        await self.pool.execute(f"DELETE FROM {table} WHERE {_KEY} AND task_key = $4", *_key(key), task_key)

    async def load_queue_tasks(self, shards: Collection[int] | None = None) -> list[StoredQueueTask]:
        """All task-queue tasks, or those of the executions in `shards`, oldest first."""
        rows = await self.pool.fetch(
            "SELECT namespace_id, workflow_id, run_id, task_key, task_queue, kind, data FROM queue_tasks"
            " WHERE $1::integer[] IS NULL OR shard_id = ANY($1::integer[]) ORDER BY seq",
            None if shards is None else list(shards),
        )
        return [StoredQueueTask(ExecutionKey(r[0], r[1], r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    async def load_timers(
        self,
        shards: Collection[int] | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredTimer]:
        """All timers, or those of the executions in `shards`, or those due in (`after`, `until`]."""
        rows = await self.pool.fetch(
            "SELECT namespace_id, workflow_id, run_id, task_key, fire_time, data FROM timers"
            " WHERE ($1::integer[] IS NULL OR shard_id = ANY($1::integer[]))"
            " AND ($2::bigint IS NULL OR fire_time > $2) AND ($3::bigint IS NULL OR fire_time <= $3)",
            None if shards is None else list(shards),
            None if after is None else to_micros(after),
            None if until is None else to_micros(until),
        )
        return [StoredTimer(ExecutionKey(r[0], r[1], r[2]), r[3], from_micros(r[4]), r[5]) for r in rows]

    async def load_transfers(self, shards: Collection[int] | None = None) -> list[StoredTransfer]:
        """All transfers, or those of the executions in `shards`, in the order they were written."""
        rows = await self.pool.fetch(
            "SELECT namespace_id, workflow_id, run_id, task_key, data FROM transfer_tasks"
            " WHERE $1::integer[] IS NULL OR shard_id = ANY($1::integer[]) ORDER BY seq",
            None if shards is None else list(shards),
        )
        return [StoredTransfer(ExecutionKey(r[0], r[1], r[2]), r[3], r[4]) for r in rows]


async def _write_current(conn: Connection, key: ExecutionKey, current: CurrentWrite) -> None:
    values = (current.run_id, current.first_run_id, current.status, current.start_request_id)
    if current.previous_run_id is None:
        # A unique violation here (another run is current) becomes ConditionFailed in commit().
        await conn.execute(
            "INSERT INTO current_executions"
            " (run_id, first_run_id, status, start_request_id, namespace_id, workflow_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            *values,
            key.namespace_id,
            key.workflow_id,
        )
        return
    status = await conn.execute(
        "UPDATE current_executions SET run_id = $1, first_run_id = $2, status = $3, start_request_id = $4"
        " WHERE namespace_id = $5 AND workflow_id = $6 AND run_id = $7",
        *values,
        key.namespace_id,
        key.workflow_id,
        current.previous_run_id,
    )
    if status != "UPDATE 1":
        raise ConditionFailed(f"workflow {key.workflow_id} has a new current run")
