"""The visibility side of the PostgreSQL store: the row kept with each run's changes, list
and count queries, and the custom search attributes of each namespace.

What a row holds is decided by the SQLite store's code (`SqliteVisibility`), reused here
so that both stores index the same values; queries come from the one compiler in
SQLite's dialect and are translated by `postgres_dialect`. Row values, page keys and
orders are the same as SQLite's, so a page token from one works on the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from clepsydra.engine.codec import to_micros
from clepsydra.store.base import Keyset, VisibilityRecord
from clepsydra.store.postgres_dialect import translate
from clepsydra.store.sqlite_visibility import (
    _COLUMNS,
    _SELECT,
    DEFAULT_ORDER,
    OPEN_SORT,
    SqliteVisibility,
    _nanos,
    _record,
)
from clepsydra.visibility.attributes import COLUMN_TYPES, AttrType, assign_columns
from clepsydra.visibility.compiler import Compiled

if TYPE_CHECKING:
    from clepsydra.store.postgres_schema import Connection

# NOTIFY channel: a namespace's custom search attributes changed (payload: its id).
CHANGES_CHANNEL = "clepsydra_search_attributes"
_ALL_COLUMNS = [c.strip() for c in _COLUMNS.split(",")] + list(COLUMN_TYPES)
_UPSERT = (
    f"INSERT INTO executions_visibility ({', '.join(_ALL_COLUMNS)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(_ALL_COLUMNS) + 1))})"
    " ON CONFLICT (namespace_id, run_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _ALL_COLUMNS if c not in ("namespace_id", "run_id"))
)


class PostgresVisibility:
    _custom_columns: dict[str, dict[str, str]]

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError  # PostgresStore's

    # -- writing, inside the commit transaction ------------------------------------------------

    async def _upsert_visibility(self, conn: Connection, r: VisibilityRecord) -> None:
        closed = r.close_time is not None
        columns = await self._custom_columns_of(conn, r.key.namespace_id)
        indexed = SqliteVisibility._indexed_attributes(columns, r.search_attributes)
        values: dict[str, Any] = {
            "namespace_id": r.key.namespace_id,
            "run_id": r.key.run_id,
            "workflow_id": r.key.workflow_id,
            "workflow_type": r.workflow_type,
            "task_queue": r.task_queue,
            "status": r.status,
            "start_time": to_micros(r.start_time),
            "execution_time": to_micros(r.execution_time),
            "close_time": to_micros(r.close_time) if r.close_time else None,
            "close_sort": to_micros(r.close_time) if r.close_time else OPEN_SORT,
            "execution_duration": _nanos(r.close_time - r.execution_time) if r.close_time else None,
            # Like the reference, these are known to list queries once the run has closed.
            "history_length": r.history_length if closed else None,
            "history_size_bytes": r.history_size_bytes if closed else None,
            "state_transition_count": r.state_transition_count if closed else None,
            "parent_workflow_id": r.parent[0] if r.parent else None,
            "parent_run_id": r.parent[1] if r.parent else None,
            "root_workflow_id": (r.root or (r.key.workflow_id, r.key.run_id))[0],
            "root_run_id": (r.root or (r.key.workflow_id, r.key.run_id))[1],
            "memo": r.memo,
            "search_attributes": r.search_attributes,
            **indexed,
        }
        await conn.execute(_UPSERT, *(values.get(c) for c in _ALL_COLUMNS))

    async def _custom_columns_of(self, conn: Connection | asyncpg.Pool, namespace_id: str) -> dict[str, str]:
        cached = self._custom_columns.get(namespace_id)
        if cached is None:
            rows = await conn.fetch(
                "SELECT name, column_name FROM custom_search_attributes WHERE namespace_id = $1",
                namespace_id,
            )
            cached = self._custom_columns[namespace_id] = {r[0]: r[1] for r in rows}
        return cached

    # -- custom search attributes ----------------------------------------------------------------

    async def custom_search_attributes(self, namespace_id: str) -> dict[str, str]:
        """Name → column of the namespace's custom search attributes."""
        return dict(await self._custom_columns_of(self.pool, namespace_id))

    async def add_custom_search_attributes(self, namespace_id: str, wanted: dict[str, AttrType]) -> None:
        """Give each new attribute a free column of its type; names that exist are left alone.
        Raises attributes.TooMany (and adds nothing) if a type has no column left."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Serialize changes to one namespace's attributes across processes.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", namespace_id)
            rows = await conn.fetch(
                "SELECT name, column_name FROM custom_search_attributes WHERE namespace_id = $1",
                namespace_id,
            )
            new = assign_columns({r[0]: r[1] for r in rows}, wanted)
            for name, column in new.items():
                # The column may hold values of an attribute removed earlier.
                await conn.execute(
                    f"UPDATE executions_visibility SET {column} = NULL"
                    f" WHERE namespace_id = $1 AND {column} IS NOT NULL",
                    namespace_id,
                )
                await conn.execute(
                    "INSERT INTO custom_search_attributes (namespace_id, name, column_name)"
                    " VALUES ($1, $2, $3)",
                    namespace_id,
                    name,
                    column,
                )
            await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, namespace_id)
        self._custom_columns.pop(namespace_id, None)

    async def remove_custom_search_attributes(self, namespace_id: str, names: list[str]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", namespace_id)
            await conn.execute(
                "DELETE FROM custom_search_attributes WHERE namespace_id = $1 AND name = ANY($2::text[])",
                namespace_id,
                names,
            )
            await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, namespace_id)
        self._custom_columns.pop(namespace_id, None)

    async def refresh_visibility_statistics(self) -> None:
        """Nothing to do: PostgreSQL's autovacuum keeps the planner's statistics current."""

    # -- queries -------------------------------------------------------------------------------

    async def list_visibility(
        self,
        namespace_id: str,
        query: Compiled,
        page_size: int,
        after: Keyset | int | None,
    ) -> list[VisibilityRecord]:
        """One page of runs matching the query, in the query's order or the default one.
        `after` is the keyset of the last row of the previous page (default order) or the
        number of rows already returned (ORDER BY queries)."""
        where, params, order_by = _where(namespace_id, query)
        n = len(params)
        if order_by:
            sql = f"{_SELECT} WHERE {where} ORDER BY {order_by}, run_id LIMIT ${n + 1} OFFSET ${n + 2}"
            params += [page_size, after or 0]
        else:
            if after is not None:
                where += f" AND (close_sort, start_time, run_id) < (${n + 1}, ${n + 2}, ${n + 3})"
                assert isinstance(after, tuple)  # an offset only pages a query with ORDER BY
                params += list(after)
            sql = f"{_SELECT} WHERE {where} ORDER BY {DEFAULT_ORDER} LIMIT ${len(params) + 1}"
            params.append(page_size)
        return [_record(tuple(row)) for row in await self.pool.fetch(sql, *params)]

    @staticmethod
    def keyset(record: VisibilityRecord) -> Keyset:
        """Where the page after `record` starts, in the default order."""
        return SqliteVisibility.keyset(record)

    async def count_visibility(self, namespace_id: str, query: Compiled) -> list[tuple[int | None, int]]:
        """[(None, count)], or [(status, count), ...] for a GROUP BY ExecutionStatus query."""
        where, params, _ = _where(namespace_id, query)
        if query.group_by_status:
            sql = (
                f"SELECT status, COUNT(*) FROM executions_visibility WHERE {where}"
                " GROUP BY status ORDER BY status"
            )
        else:
            sql = f"SELECT NULL::integer, COUNT(*) FROM executions_visibility WHERE {where}"
        return [(row[0], row[1]) for row in await self.pool.fetch(sql, *params)]


def _where(namespace_id: str, query: Compiled) -> tuple[str, list[Any], str]:
    translated = translate(query, first_param=2)
    where = f"namespace_id = $1 AND ({translated.where})"
    if not query.mentions_division:
        where += " AND namespace_division IS NULL"
    return where, [namespace_id, *translated.params], translated.order_by
