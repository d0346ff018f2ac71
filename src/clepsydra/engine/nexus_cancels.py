"""Cancel requests for a caller's Nexus operations: recorded when the workflow (or a client,
for a standalone operation) asks, sent to the handler once the operation has started (a
NEXUS_CANCEL transfer task), retried with the start requests' backoff, and closed by a
CancelRequestCompleted or CancelRequestFailed event that the worker may ignore. The
operation itself still ends by its own completion (usually Canceled).
"""

from __future__ import annotations

from temporalio.api.command.v1 import RequestCancelNexusOperationCommandAttributes
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    NexusOperationCancelRequestCompletedEventAttributes,
    NexusOperationCancelRequestedEventAttributes,
    NexusOperationCancelRequestFailedEventAttributes,
)

from clepsydra.engine import nexus_operations
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_operations import BAD_CANCEL, Failed
from clepsydra.engine.nexus_state import CancelState, NexusCancel, NexusOperationInfo
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.engine.workflow_task import CommandError


def request_cancel(
    m: Mutation, completed_event_id: int, command: RequestCancelNexusOperationCommandAttributes
) -> None:
    """RequestCancelNexusOperation: recorded at once; sent to the handler once the operation
    has started (an operation not started yet is canceled when its start is answered)."""
    scheduled_event_id = command.scheduled_event_id
    info = nexus_operations.pending(m.state, scheduled_event_id)
    if info is None:
        if not _closing_buffered(m.state, scheduled_event_id):
            raise CommandError(
                BAD_CANCEL,
                "requested cancelation for a non-existing or already completed operation with scheduled "
                f"event ID of {scheduled_event_id}",
            )
    elif info.cancel is not None:
        raise CommandError(
            BAD_CANCEL,
            "cancelation was already requested for an operation with scheduled event ID "
            f"{scheduled_event_id}",
        )
    record_cancel_request(m, scheduled_event_id, info, completed_event_id)


def record_cancel_request(
    m: Mutation, scheduled_event_id: int, info: NexusOperationInfo | None, completed_event_id: int = 0
) -> None:
    """The CancelRequested event; the request goes to the handler once the operation started."""
    event = m.add_event(
        EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED,
        NexusOperationCancelRequestedEventAttributes(
            scheduled_event_id=scheduled_event_id, workflow_task_completed_event_id=completed_event_id
        ),
    )
    if info is None:
        return  # it closed while the task was in flight: the worker sees that next
    info.cancel = NexusCancel(event.event_id, m.now)
    if info.started:
        nexus_operations.send_cancel(m, info)


def _closing_buffered(state: ExecutionState, scheduled_event_id: int) -> bool:
    closing = {
        EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED: "nexus_operation_completed_event_attributes",
        EventType.EVENT_TYPE_NEXUS_OPERATION_FAILED: "nexus_operation_failed_event_attributes",
        EventType.EVENT_TYPE_NEXUS_OPERATION_CANCELED: "nexus_operation_canceled_event_attributes",
        EventType.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT: "nexus_operation_timed_out_event_attributes",
    }
    return any(
        e.event_type in closing and getattr(e, closing[e.event_type]).scheduled_event_id == scheduled_event_id
        for e in state.buffered_events
    )


def cancelable(state: ExecutionState, scheduled_event_id: int) -> NexusOperationInfo | None:
    """The operation, if a cancel request is due for it now."""
    info = nexus_operations.pending(state, scheduled_event_id) if state.running else None
    if info is None or info.cancel is None:
        return None
    if info.cancel.state != CancelState.NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED:
        return None
    return info


def record_cancel(m: Mutation, scheduled_event_id: int, attempt: int, failed: Failed | None) -> None:
    """What the cancel request of `attempt` brought back (None: the handler accepted it)."""
    info = cancelable(m.state, scheduled_event_id)
    if info is None or info.cancel is None or info.cancel.attempt != attempt:
        return
    cancel = info.cancel
    cancel.last_attempt_complete_time = m.now
    if failed is None:
        cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED
        event = m.add_external_event(
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED,
            NexusOperationCancelRequestCompletedEventAttributes(
                requested_event_id=cancel.requested_event_id, scheduled_event_id=scheduled_event_id
            ),
        )
        event.worker_may_ignore = True
    elif failed.retryable:
        cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF
        cancel.last_attempt_failure = failed.failure
        cancel.next_attempt_schedule_time = m.now + nexus_operations.backoff(cancel.attempt)
        m.add_timer(
            TimerTask(
                TimerKind.NEXUS_CANCEL_RETRY, cancel.next_attempt_schedule_time, scheduled_event_id, attempt
            )
        )
        m.touch()
    else:
        cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_FAILED
        cancel.last_attempt_failure = failed.failure
        event = m.add_external_event(
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_FAILED,
            NexusOperationCancelRequestFailedEventAttributes(
                requested_event_id=cancel.requested_event_id,
                scheduled_event_id=scheduled_event_id,
                failure=failed.failure,
            ),
        )
        event.worker_may_ignore = True


def on_timer(m: Mutation, task: TimerTask) -> None:
    """A cancel request's backoff came due: send it again."""
    info = timer_subject(m.state, task)
    if info is None or info.cancel is None:
        return
    info.cancel.next_attempt_schedule_time = None
    nexus_operations.send_cancel(m, info)
    m.touch()


def timer_subject(state: ExecutionState, task: TimerTask) -> NexusOperationInfo | None:
    info = nexus_operations.pending(state, task.event_id) if state.running else None
    cancel = info.cancel if info is not None else None
    if cancel is None or cancel.state != CancelState.NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF:
        return None
    return info if cancel.attempt == task.attempt else None
