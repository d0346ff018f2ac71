"""The visibility table of the SQLite store: one row per run, kept with the run's changes."""

from __future__ import annotations

import sqlite3

from clepsydra.engine.codec import to_micros
from clepsydra.store.base import VisibilityRecord


def upsert_visibility(conn: sqlite3.Connection, r: VisibilityRecord) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO executions_visibility (namespace_id, workflow_id, run_id,"
        " workflow_type, task_queue, status, start_time, execution_time, close_time,"
        " history_length, history_size_bytes, state_transition_count, memo, search_attributes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.key.namespace_id,
            r.key.workflow_id,
            r.key.run_id,
            r.workflow_type,
            r.task_queue,
            r.status,
            to_micros(r.start_time),
            to_micros(r.execution_time),
            to_micros(r.close_time) if r.close_time else None,
            r.history_length,
            r.history_size_bytes,
            r.state_transition_count,
            r.memo,
            r.search_attributes,
        ),
    )
