"""The visibility side of the SQLite store: the row kept with each run's changes, list and
count queries, and the custom search attributes of each namespace.

`SqliteStore` inherits this mixin; its methods run on the store's one database thread,
so the cache of custom attribute columns is only touched from there.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.api.common.v1 import SearchAttributes

from clepsydra.engine.codec import from_micros, to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import Keyset, VisibilityRecord
from clepsydra.visibility import values
from clepsydra.visibility.attributes import COLUMN_TYPES, PREDEFINED, AttrType, Storage, assign_columns
from clepsydra.visibility.compiler import Compiled

OPEN_SORT = 2**63 - 1  # close_sort of a run that is still open
DEFAULT_ORDER = "close_sort DESC, start_time DESC, run_id DESC"
_COLUMNS = (
    "namespace_id, run_id, workflow_id, workflow_type, task_queue, status, start_time, execution_time,"
    " close_time, close_sort, execution_duration, history_length, history_size_bytes,"
    " state_transition_count, parent_workflow_id, parent_run_id, root_workflow_id, root_run_id,"
    " namespace_division, predefined, memo, search_attributes"
)
_SELECT = (
    "SELECT namespace_id, workflow_id, run_id, workflow_type, task_queue, status, start_time,"
    " execution_time, close_time, history_length, history_size_bytes, state_transition_count, memo,"
    " search_attributes, parent_workflow_id, parent_run_id, root_workflow_id, root_run_id"
    " FROM executions_visibility"
)


class SqliteVisibility:
    if TYPE_CHECKING:  # SqliteStore's, a read-only property

        @property
        def conn(self) -> sqlite3.Connection: ...

    _custom_columns: dict[str, dict[str, str]]

    async def _run(self, fn: Any, *args: Any) -> Any: ...

    # -- writing, inside the commit transaction ------------------------------------------------

    def _upsert_visibility(self, r: VisibilityRecord) -> None:
        closed = r.close_time is not None
        row: dict[str, Any] = {
            "close_sort": to_micros(r.close_time) if r.close_time else OPEN_SORT,
            "execution_duration": _nanos(r.close_time - r.execution_time) if r.close_time else None,
            # Like the reference, these are known to list queries once the run has closed.
            "history_length": r.history_length if closed else None,
            "history_size_bytes": r.history_size_bytes if closed else None,
            "state_transition_count": r.state_transition_count if closed else None,
        }
        row.update(self._indexed_attributes(self._custom_columns_of(r.key.namespace_id), r.search_attributes))
        custom = [c for c in row if c in COLUMN_TYPES]
        names = _COLUMNS + "".join(f", {c}" for c in custom)
        self.conn.execute(
            f"INSERT OR REPLACE INTO executions_visibility ({names})"
            f" VALUES ({', '.join('?' * (22 + len(custom)))})",
            (
                r.key.namespace_id,
                r.key.run_id,
                r.key.workflow_id,
                r.workflow_type,
                r.task_queue,
                r.status,
                to_micros(r.start_time),
                to_micros(r.execution_time),
                to_micros(r.close_time) if r.close_time else None,
                row["close_sort"],
                row["execution_duration"],
                row["history_length"],
                row["history_size_bytes"],
                row["state_transition_count"],
                *(r.parent or (None, None)),
                *(r.root or (r.key.workflow_id, r.key.run_id)),
                row.get("namespace_division"),
                row.get("predefined"),
                r.memo,
                r.search_attributes,
                *(row[c] for c in custom),
            ),
        )

    @staticmethod
    def _indexed_attributes(columns: dict[str, str], blob: bytes) -> dict[str, Any]:
        """Column values for the search attributes in the blob, given the namespace's custom
        attribute columns; unknown or invalid ones are skipped."""
        out: dict[str, Any] = {}
        predefined: dict[str, Any] = {}
        for name, payload in SearchAttributes.FromString(blob).indexed_fields.items():
            attribute = PREDEFINED.get(name)
            column = columns.get(name)
            type_ = attribute.type if attribute else COLUMN_TYPES.get(column or "")
            if type_ is None:
                continue
            try:
                value = values.decode(payload)
                if value is None:
                    continue
                values.check(type_, value)
            except values.InvalidValue:
                continue
            stored = values.column_value(type_, value)
            if attribute is None:
                assert column is not None  # the type came from it
                out[column] = stored
            elif attribute.storage is Storage.COLUMN:
                out[attribute.column] = stored
            elif type_ is AttrType.KEYWORD_LIST:
                if value:  # json_each reads the list itself; an empty one is no value
                    predefined[name] = value
            else:
                predefined[name] = stored
        if predefined:
            out["predefined"] = json.dumps(predefined)
        return out

    def _custom_columns_of(self, namespace_id: str) -> dict[str, str]:
        cached = self._custom_columns.get(namespace_id)
        if cached is None:
            rows = self.conn.execute(
                "SELECT name, column_name FROM custom_search_attributes WHERE namespace_id = ?",
                (namespace_id,),
            )
            cached = self._custom_columns[namespace_id] = dict(rows.fetchall())
        return cached

    # -- custom search attributes ----------------------------------------------------------------

    async def custom_search_attributes(self, namespace_id: str) -> dict[str, str]:
        """Name → column of the namespace's custom search attributes."""
        result: dict[str, str] = await self._run(lambda: dict(self._custom_columns_of(namespace_id)))
        return result

    async def add_custom_search_attributes(self, namespace_id: str, wanted: dict[str, AttrType]) -> None:
        """Give each new attribute a free column of its type; names that exist are left alone.
        Raises attributes.TooMany (and adds nothing) if a type has no column left."""

        def add() -> None:
            existing = self._custom_columns_of(namespace_id)
            new = assign_columns(existing, wanted)
            with self._transaction():
                for name, column in new.items():
                    # The column may hold values of an attribute removed earlier.
                    self.conn.execute(
                        f"UPDATE executions_visibility SET {column} = NULL"
                        f" WHERE namespace_id = ? AND {column} IS NOT NULL",
                        (namespace_id,),
                    )
                    self.conn.execute(
                        "INSERT INTO custom_search_attributes (namespace_id, name, column_name)"
                        " VALUES (?, ?, ?)",
                        (namespace_id, name, column),
                    )
            self._custom_columns.pop(namespace_id, None)

        await self._run(add)

    async def remove_custom_search_attributes(self, namespace_id: str, names: list[str]) -> None:
        def remove() -> None:
            with self._transaction():
                self.conn.executemany(
                    "DELETE FROM custom_search_attributes WHERE namespace_id = ? AND name = ?",
                    [(namespace_id, name) for name in names],
                )
            self._custom_columns.pop(namespace_id, None)

        await self._run(remove)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    async def refresh_visibility_statistics(self) -> None:
        """Let the query planner know how selective each index is (sampled, so it takes
        milliseconds): without statistics it may walk the default-order index past
        100,000 rows to find the few that match a custom attribute."""

        def analyze() -> None:
            self.conn.execute("PRAGMA analysis_limit = 1000")
            self.conn.execute("ANALYZE executions_visibility")

        await self._run(analyze)

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
        where, params = _where(namespace_id, query)
        if query.order_by:
            order = ", ".join(f"{sql} {'DESC' if desc else 'ASC'}" for sql, desc in query.order_by)
            sql = f"{_SELECT} WHERE {where} ORDER BY {order}, run_id LIMIT ? OFFSET ?"
            params += [page_size, after or 0]
        else:
            if after is not None:
                where += " AND (close_sort, start_time, run_id) < (?, ?, ?)"
                assert isinstance(after, tuple)  # an offset only pages a query with ORDER BY
                params += list(after)
            sql = f"{_SELECT} WHERE {where} ORDER BY {DEFAULT_ORDER} LIMIT ?"
            params.append(page_size)

        def read() -> list[VisibilityRecord]:
            return [_record(row) for row in self.conn.execute(sql, params)]

        result: list[VisibilityRecord] = await self._run(read)
        return result

    @staticmethod
    def keyset(record: VisibilityRecord) -> Keyset:
        """Where the page after `record` starts, in the default order."""
        close_sort = to_micros(record.close_time) if record.close_time else OPEN_SORT
        return (close_sort, to_micros(record.start_time), record.key.run_id)

    async def count_visibility(self, namespace_id: str, query: Compiled) -> list[tuple[int | None, int]]:
        """[(None, count)], or [(status, count), ...] for a GROUP BY ExecutionStatus query."""
        where, params = _where(namespace_id, query)
        if query.group_by_status:
            sql = (
                f"SELECT status, COUNT(*) FROM executions_visibility WHERE {where}"
                " GROUP BY status ORDER BY status"
            )
        else:
            sql = f"SELECT NULL, COUNT(*) FROM executions_visibility WHERE {where}"

        def read() -> list[tuple[int | None, int]]:
            return [(row[0], row[1]) for row in self.conn.execute(sql, params)]

        result: list[tuple[int | None, int]] = await self._run(read)
        return result


def _where(namespace_id: str, query: Compiled) -> tuple[str, list[Any]]:
    where = f"namespace_id = ? AND ({query.where})"
    if not query.mentions_division:
        where += " AND namespace_division IS NULL"
    return where, [namespace_id, *query.params]


def _record(row: sqlite3.Row | tuple[Any, ...]) -> VisibilityRecord:
    return VisibilityRecord(
        key=ExecutionKey(row[0], row[1], row[2]),
        workflow_type=row[3],
        task_queue=row[4],
        status=row[5],
        start_time=from_micros(row[6]),
        execution_time=from_micros(row[7]),
        close_time=from_micros(row[8]) if row[8] is not None else None,
        history_length=row[9] or 0,
        history_size_bytes=row[10] or 0,
        state_transition_count=row[11] or 0,
        memo=row[12],
        search_attributes=row[13],
        parent=(row[14], row[15]) if row[14] is not None else None,
        root=(row[16], row[17]),
    )


def _nanos(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1) * 1_000


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT on the store thread, rolled back on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
