"""Batch operations in the PostgreSQL store: the job rows, and the runs a job goes through.

`PostgresStore` inherits this mixin; it mirrors `sqlite_batch.py` (same records, same
order of runs: start time, then run id), with the job's filter translated by
`postgres_dialect`.
"""

from __future__ import annotations

import asyncpg

from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import BatchCursor, BatchRecord
from clepsydra.store.postgres_dialect import translate
from clepsydra.visibility.compiler import Compiled

_FIELDS = "namespace_id, job_id, running, start_time, request, progress, cursor"


class PostgresBatch:
    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError  # PostgresStore's

    async def create_batch(self, record: BatchRecord) -> bool:
        """False if the namespace already has a job with this id."""
        status = await self.pool.execute(
            f"INSERT INTO batch_operations ({_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING",
            record.namespace_id,
            record.job_id,
            record.running,
            record.start_time,
            record.request,
            record.progress,
            record.cursor,
        )
        return bool(status == "INSERT 0 1")

    async def save_batch_progress(
        self, namespace_id: str, job_id: str, running: bool, progress: bytes, cursor: str | None
    ) -> None:
        await self.pool.execute(
            "UPDATE batch_operations SET running = $1, progress = $2, cursor = $3"
            " WHERE namespace_id = $4 AND job_id = $5",
            running,
            progress,
            cursor,
            namespace_id,
            job_id,
        )

    async def get_batch(self, namespace_id: str, job_id: str) -> BatchRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_FIELDS} FROM batch_operations WHERE namespace_id = $1 AND job_id = $2",
            namespace_id,
            job_id,
        )
        return BatchRecord(*row) if row else None

    async def list_batches(self, namespace_id: str, limit: int, offset: int) -> list[BatchRecord]:
        """Newest first."""
        rows = await self.pool.fetch(
            f"SELECT {_FIELDS} FROM batch_operations WHERE namespace_id = $1"
            " ORDER BY start_time DESC, job_id LIMIT $2 OFFSET $3",
            namespace_id,
            limit,
            offset,
        )
        return [BatchRecord(*row) for row in rows]

    async def running_batches(self) -> list[BatchRecord]:
        rows = await self.pool.fetch(f"SELECT {_FIELDS} FROM batch_operations WHERE running")
        return [BatchRecord(*row) for row in rows]

    async def batch_targets(
        self, namespace_id: str, query: Compiled, after: BatchCursor | None, limit: int
    ) -> list[tuple[ExecutionKey, BatchCursor]]:
        """The next runs matching the query, in (start time, run id) order, after `after`."""
        translated = translate(query, first_param=2)
        where = f"namespace_id = $1 AND ({translated.where})"
        params = [namespace_id, *translated.params]
        if not query.mentions_division:
            where += " AND namespace_division IS NULL"
        if after is not None:
            where += f" AND (start_time, run_id) > (${len(params) + 1}, ${len(params) + 2})"
            params += list(after)
        rows = await self.pool.fetch(
            f"SELECT workflow_id, run_id, start_time FROM executions_visibility WHERE {where}"
            f" ORDER BY start_time, run_id LIMIT ${len(params) + 1}",
            *params,
            limit,
        )
        return [(ExecutionKey(namespace_id, r[0], r[1]), (r[2], r[1])) for r in rows]
