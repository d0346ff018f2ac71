"""Small builders of store writes, so that each test reads as the rows it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import (
    CurrentWrite,
    ExecutionWrite,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
    VisibilityRecord,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def key(workflow_id: str = "wf", run_id: str = "run-1", namespace_id: str = "ns") -> ExecutionKey:
    return ExecutionKey(namespace_id, workflow_id, run_id)


def start(k: ExecutionKey, state: bytes = b"s1", **fields: object) -> ExecutionWrite:
    """Create the run and make it its workflow id's current run."""
    current = CurrentWrite(k.run_id, k.run_id, 1, f"request-{k.run_id}", None)
    return ExecutionWrite(k, state, 0, current=current, **fields)  # type: ignore[arg-type]


def queue_task(k: ExecutionKey, task_key: str, task_queue: str = "tq", kind: int = 1) -> StoredQueueTask:
    return StoredQueueTask(k, task_key, task_queue, kind, f"data-{task_key}".encode())


def timer(k: ExecutionKey, task_key: str, seconds: float = 1.0) -> StoredTimer:
    return StoredTimer(k, task_key, T0 + timedelta(seconds=seconds), f"timer-{task_key}".encode())


def transfer(k: ExecutionKey, task_key: str) -> StoredTransfer:
    return StoredTransfer(k, task_key, f"transfer-{task_key}".encode())


def visibility(
    k: ExecutionKey,
    *,
    status: int = 1,
    start_seconds: int = 0,
    close_seconds: int | None = None,
    workflow_type: str = "Greet",
    search_attributes: bytes = b"",
    memo: bytes = b"",
    parent: tuple[str, str] | None = None,
) -> VisibilityRecord:
    started = T0 + timedelta(seconds=start_seconds)
    return VisibilityRecord(
        key=k,
        workflow_type=workflow_type,
        task_queue="tq",
        status=status,
        start_time=started,
        execution_time=started,
        close_time=None if close_seconds is None else T0 + timedelta(seconds=close_seconds),
        history_length=5,
        history_size_bytes=300,
        state_transition_count=4,
        memo=memo,
        search_attributes=search_attributes,
        parent=parent,
        root=parent,
    )
