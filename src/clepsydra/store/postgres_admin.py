"""Administrative writes of the PostgreSQL store: namespace changes and deleting runs.

`PostgresStore` inherits this mixin. As in `sqlite_admin.py`, deleting a run removes
everything the store has of it in one transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import asyncpg

from clepsydra.engine.codec import to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import NamespaceRecord

_KEY = "namespace_id = $1 AND workflow_id = $2 AND run_id = $3"


class PostgresAdmin:
    _custom_columns: dict[str, dict[str, str]]

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError  # PostgresStore's

    async def update_namespace(self, record: NamespaceRecord) -> None:
        await self.pool.execute(
            "UPDATE namespaces SET name = $1, data = $2 WHERE id = $3", record.name, record.data, record.id
        )

    async def delete_namespace(self, namespace_id: str) -> None:
        """Remove the namespace row and its search attributes (its runs are deleted before)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM custom_search_attributes WHERE namespace_id = $1", namespace_id)
            await conn.execute("DELETE FROM namespaces WHERE id = $1", namespace_id)
        self._custom_columns.pop(namespace_id, None)

    async def delete_run(self, key: ExecutionKey) -> bool:
        """Delete the run's history, state, visibility, tasks and timers, and the current-run
        pointer if it points at this run. False if there was no such run."""
        values = (key.namespace_id, key.workflow_id, key.run_id)
        async with self.pool.acquire() as conn, conn.transaction():
            existed = await conn.execute(f"DELETE FROM executions WHERE {_KEY}", *values) != "DELETE 0"
            for table in ("history", "queue_tasks", "timers", "transfer_tasks", "current_executions"):
                await conn.execute(f"DELETE FROM {table} WHERE {_KEY}", *values)
            await conn.execute(
                "DELETE FROM executions_visibility WHERE namespace_id = $1 AND run_id = $2",
                key.namespace_id,
                key.run_id,
            )
        return existed

    async def runs_closed_before(self, namespace_id: str, cutoff: datetime, limit: int) -> list[ExecutionKey]:
        """Runs of the namespace that closed before `cutoff`, oldest first."""
        rows = await self.pool.fetch(
            "SELECT workflow_id, run_id FROM executions_visibility"
            " WHERE namespace_id = $1 AND close_sort < $2 ORDER BY close_sort LIMIT $3",
            namespace_id,
            to_micros(cutoff),
            limit,
        )
        return [ExecutionKey(namespace_id, r[0], r[1]) for r in rows]

    async def runs_of_namespace(self, namespace_id: str, limit: int) -> list[ExecutionKey]:
        rows = await self.pool.fetch(
            "SELECT workflow_id, run_id FROM executions WHERE namespace_id = $1 LIMIT $2", namespace_id, limit
        )
        return [ExecutionKey(namespace_id, r[0], r[1]) for r in rows]

    async def token_secret(self) -> bytes:
        """The key that seals task tokens: made by the first process to ask, shared by all."""
        await self.pool.execute(
            "INSERT INTO secrets (name, value) VALUES ('task_token', $1) ON CONFLICT DO NOTHING",
            secrets.token_bytes(32),
        )
        value: bytes = await self.pool.fetchval("SELECT value FROM secrets WHERE name = 'task_token'")
        return value
