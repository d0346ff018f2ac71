"""Batch operations in the SQLite store: the job rows, and the runs a job goes through.

`SqliteStore` inherits this mixin. A job walks its runs in (start time, run id) order,
which the operation itself never changes (terminating a run moves it in the default
order), and saves the last one done as its cursor.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import BatchCursor, BatchRecord
from clepsydra.visibility.compiler import Compiled

__all__ = ["BatchCursor", "BatchRecord", "SqliteBatch"]


class SqliteBatch:
    if TYPE_CHECKING:  # SqliteStore's, a read-only property

        @property
        def conn(self) -> sqlite3.Connection: ...

    async def _run(self, fn: Any, *args: Any) -> Any: ...

    async def create_batch(self, record: BatchRecord) -> bool:
        """False if the namespace already has a job with this id."""

        def insert() -> bool:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO batch_operations"
                " (namespace_id, job_id, running, start_time, request, progress, cursor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.namespace_id,
                    record.job_id,
                    int(record.running),
                    record.start_time,
                    record.request,
                    record.progress,
                    record.cursor,
                ),
            )
            return cursor.rowcount == 1

        created: bool = await self._run(insert)
        return created

    async def save_batch_progress(
        self, namespace_id: str, job_id: str, running: bool, progress: bytes, cursor: str | None
    ) -> None:
        def update() -> None:
            self.conn.execute(
                "UPDATE batch_operations SET running = ?, progress = ?, cursor = ?"
                " WHERE namespace_id = ? AND job_id = ?",
                (int(running), progress, cursor, namespace_id, job_id),
            )

        await self._run(update)

    async def get_batch(self, namespace_id: str, job_id: str) -> BatchRecord | None:
        def read() -> BatchRecord | None:
            row = self.conn.execute(
                f"SELECT {_FIELDS} FROM batch_operations WHERE namespace_id = ? AND job_id = ?",
                (namespace_id, job_id),
            ).fetchone()
            return _batch(row) if row else None

        result: BatchRecord | None = await self._run(read)
        return result

    async def list_batches(self, namespace_id: str, limit: int, offset: int) -> list[BatchRecord]:
        """Newest first."""

        def read() -> list[BatchRecord]:
            rows = self.conn.execute(
                f"SELECT {_FIELDS} FROM batch_operations WHERE namespace_id = ?"
                " ORDER BY start_time DESC, job_id LIMIT ? OFFSET ?",
                (namespace_id, limit, offset),
            )
            return [_batch(row) for row in rows]

        result: list[BatchRecord] = await self._run(read)
        return result

    async def running_batches(self) -> list[BatchRecord]:
        def read() -> list[BatchRecord]:
            rows = self.conn.execute(f"SELECT {_FIELDS} FROM batch_operations WHERE running = 1")
            return [_batch(row) for row in rows]

        result: list[BatchRecord] = await self._run(read)
        return result

    async def batch_targets(
        self, namespace_id: str, query: Compiled, after: BatchCursor | None, limit: int
    ) -> list[tuple[ExecutionKey, BatchCursor]]:
        """The next runs matching the query, in (start time, run id) order, after `after`."""
        where = f"namespace_id = ? AND ({query.where})"
        params: list[Any] = [namespace_id, *query.params]
        if not query.mentions_division:
            where += " AND namespace_division IS NULL"
        if after is not None:
            where += " AND (start_time, run_id) > (?, ?)"
            params += list(after)
        sql = (
            f"SELECT workflow_id, run_id, start_time FROM executions_visibility WHERE {where}"
            " ORDER BY start_time, run_id LIMIT ?"
        )
        params.append(limit)

        def read() -> list[tuple[ExecutionKey, BatchCursor]]:
            rows = self.conn.execute(sql, params)
            return [(ExecutionKey(namespace_id, r[0], r[1]), (r[2], r[1])) for r in rows]

        result: list[tuple[ExecutionKey, BatchCursor]] = await self._run(read)
        return result


_FIELDS = "namespace_id, job_id, running, start_time, request, progress, cursor"


def _batch(row: tuple[Any, ...]) -> BatchRecord:
    return BatchRecord(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])
