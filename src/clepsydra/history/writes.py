"""How a committed mutation maps to the store's write: history batch, state, tasks, visibility."""

from __future__ import annotations

from typing import TypeVar

from temporalio.api.common.v1 import SearchAttributes, WorkflowExecution
from temporalio.api.history.v1 import History

from clepsydra.engine import codec, versioning
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.store.base import (
    CurrentWrite,
    ExecutionWrite,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
    VisibilityRecord,
)

T = TypeVar("T")


def live(m: Mutation, tasks: list[T]) -> list[T]:
    """The tasks worth keeping: none once the change has closed the run (e.g. the timeouts of
    an activity scheduled by the same completion), as the close deletes the run's others."""
    return [] if m.closed else tasks


def execution_write(m: Mutation, expected_version: int, current: CurrentWrite | None) -> ExecutionWrite:
    """The store write of one mutation, and of the run that succeeds it if there is one."""
    write = _write(m, expected_version, current)
    if m.successor is not None:
        new = m.successor.state
        write.successor = _write(
            m.successor,
            0,
            CurrentWrite(new.run_id, new.first_run_id, new.status, new.start_request_id, m.state.run_id),
        )
    return write


def _write(m: Mutation, expected_version: int, current: CurrentWrite | None) -> ExecutionWrite:
    state = m.state
    batch = None
    if m.events:
        blob = History(events=m.events).SerializeToString()
        state.history_size_bytes += len(blob)
        batch = (m.events[0].event_id, blob)
    state.state_transition_count += 1
    if m.closed and current is None and m.successor is None:
        current = CurrentWrite(
            state.run_id, state.first_run_id, state.status, state.start_request_id, state.run_id
        )
    key = state.key
    return ExecutionWrite(
        key=key,
        state=codec.dumps(state),
        expected_version=expected_version,
        history_batch=batch,
        current=current,
        queue_tasks=[
            StoredQueueTask(key, t.key, t.task_queue, t.kind, codec.dumps(t)) for t in live(m, m.queue_tasks)
        ],
        timers=[StoredTimer(key, t.key, t.fire_time, codec.dumps(t)) for t in live(m, m.timer_tasks)],
        transfers=[StoredTransfer(key, t.key, codec.dumps(t)) for t in m.transfer_tasks],
        closed=m.closed,
        visibility=visibility_record(state) if m.visibility_changed else None,
    )


def visibility_record(s: ExecutionState) -> VisibilityRecord:
    return VisibilityRecord(
        key=s.key,
        workflow_type=s.workflow_type,
        task_queue=s.task_queue,
        status=s.status,
        start_time=s.start_time,
        execution_time=s.execution_time,
        close_time=s.close_time,
        history_length=s.history_length,
        history_size_bytes=s.history_size_bytes,
        state_transition_count=s.state_transition_count,
        memo=s.memo.SerializeToString(),
        search_attributes=_search_attributes(s),
        parent=_execution_pair(s.start.parent_workflow_execution),
        root=_execution_pair(s.start.root_workflow_execution),
    )


def _search_attributes(s: ExecutionState) -> bytes:
    """The run's search attributes, with those the server keeps of its worker version."""
    versioned = versioning.search_attributes(s)
    if not versioned:
        return s.search_attributes.SerializeToString()
    attributes = SearchAttributes()
    attributes.CopyFrom(s.search_attributes)
    for name, payload in versioned.items():
        attributes.indexed_fields[name].CopyFrom(payload)
    return attributes.SerializeToString()


def _execution_pair(execution: WorkflowExecution) -> tuple[str, str] | None:
    return (execution.workflow_id, execution.run_id) if execution.workflow_id else None
