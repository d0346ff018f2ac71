"""Administrative writes of the SQLite store: namespace changes and deleting runs.

`SqliteStore` inherits this mixin. Deleting a run removes everything the store has of
it in one transaction, so a crash leaves the run either whole or gone.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clepsydra.engine.codec import to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import NamespaceRecord

_KEY = "namespace_id = ? AND workflow_id = ? AND run_id = ?"


class SqliteAdmin:
    if TYPE_CHECKING:  # SqliteStore's, a read-only property

        @property
        def conn(self) -> sqlite3.Connection: ...

    _custom_columns: dict[str, dict[str, str]]

    async def _run(self, fn: Any, *args: Any) -> Any: ...

    async def update_namespace(self, record: NamespaceRecord) -> None:
        def update() -> None:
            self.conn.execute(
                "UPDATE namespaces SET name = ?, data = ? WHERE id = ?", (record.name, record.data, record.id)
            )

        await self._run(update)

    async def delete_namespace(self, namespace_id: str) -> None:
        """Remove the namespace row and its search attributes (its runs are deleted before)."""

        def delete() -> None:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(
                    "DELETE FROM custom_search_attributes WHERE namespace_id = ?", (namespace_id,)
                )
                self.conn.execute("DELETE FROM namespaces WHERE id = ?", (namespace_id,))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self._custom_columns.pop(namespace_id, None)

        await self._run(delete)

    async def delete_run(self, key: ExecutionKey) -> bool:
        """Delete the run's history, state, visibility, tasks and timers, and the current-run
        pointer if it points at this run. False if there was no such run."""
        values = (key.namespace_id, key.workflow_id, key.run_id)

        def delete() -> bool:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                existed = conn.execute(f"DELETE FROM executions WHERE {_KEY}", values).rowcount > 0
                for table in ("history", "queue_tasks", "timers", "transfer_tasks", "current_executions"):
                    conn.execute(f"DELETE FROM {table} WHERE {_KEY}", values)
                conn.execute(
                    "DELETE FROM executions_visibility WHERE namespace_id = ? AND run_id = ?",
                    (key.namespace_id, key.run_id),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return existed

        result: bool = await self._run(delete)
        return result

    async def runs_closed_before(self, namespace_id: str, cutoff: datetime, limit: int) -> list[ExecutionKey]:
        """Runs of the namespace that closed before `cutoff`, oldest first."""

        def read() -> list[ExecutionKey]:
            rows = self.conn.execute(
                "SELECT workflow_id, run_id FROM executions_visibility"
                " WHERE namespace_id = ? AND close_sort < ? ORDER BY close_sort LIMIT ?",
                (namespace_id, to_micros(cutoff), limit),
            )
            return [ExecutionKey(namespace_id, r[0], r[1]) for r in rows]

        result: list[ExecutionKey] = await self._run(read)
        return result

    async def runs_of_namespace(self, namespace_id: str, limit: int) -> list[ExecutionKey]:
        def read() -> list[ExecutionKey]:
            rows = self.conn.execute(
                "SELECT workflow_id, run_id FROM executions WHERE namespace_id = ? LIMIT ?",
                (namespace_id, limit),
            )
            return [ExecutionKey(namespace_id, r[0], r[1]) for r in rows]

        result: list[ExecutionKey] = await self._run(read)
        return result

    async def token_secret(self) -> bytes:
        """The key that seals task tokens: made at the first call, the same ever after."""

        def get() -> bytes:
            self.conn.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES ('task_token', ?)",
                (secrets.token_bytes(32),),
            )
            value: bytes = self.conn.execute(
                "SELECT value FROM secrets WHERE name = 'task_token'"
            ).fetchone()[0]
            return value

        result: bytes = await self._run(get)
        return result
