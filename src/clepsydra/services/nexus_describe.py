"""What DescribeWorkflowExecution shows of Nexus: the caller's pending operations (with their
cancel requests) and the handler's completion callbacks, as the reference shows them."""

from __future__ import annotations

from datetime import datetime

from temporalio.api.workflow.v1 import (
    CallbackInfo,
    NexusOperationCancellationInfo,
    PendingNexusOperationInfo,
)
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

from clepsydra.engine import codec, nexus_callbacks
from clepsydra.engine.nexus_state import NexusOperationInfo
from clepsydra.engine.state import ExecutionState


def add_nexus(response: DescribeWorkflowExecutionResponse, state: ExecutionState) -> None:
    if state.nexus is not None and state.running:
        response.pending_nexus_operations.extend(map(pending_operation, state.nexus.operations.values()))
    for callback, record in zip(
        state.start.completion_callbacks, nexus_callbacks.records(state), strict=True
    ):
        info = CallbackInfo(callback=callback, state=record.state, attempt=record.attempt)  # type: ignore[arg-type]
        info.trigger.workflow_closed.SetInParent()
        info.registration_time.CopyFrom(codec.timestamp(record.registration_time))
        _set_time(info, "last_attempt_complete_time", record.last_attempt_complete_time)
        if record.last_attempt_failure is not None:
            info.last_attempt_failure.CopyFrom(record.last_attempt_failure)
        response.callbacks.append(info)


def pending_operation(op: NexusOperationInfo) -> PendingNexusOperationInfo:
    pending = PendingNexusOperationInfo(
        endpoint=op.endpoint,
        service=op.service,
        operation=op.operation,
        operation_id=op.operation_token,
        operation_token=op.operation_token,
        state=op.state,  # type: ignore[arg-type]
        attempt=op.attempt,
        scheduled_event_id=op.scheduled_event_id,
    )
    pending.scheduled_time.CopyFrom(codec.timestamp(op.scheduled_time))
    if op.schedule_to_close_timeout:
        pending.schedule_to_close_timeout.FromTimedelta(op.schedule_to_close_timeout)
    _set_time(pending, "last_attempt_complete_time", op.last_attempt_complete_time)
    _set_time(pending, "next_attempt_schedule_time", op.next_attempt_schedule_time)
    if op.last_attempt_failure is not None:
        pending.last_attempt_failure.CopyFrom(op.last_attempt_failure)
    if op.cancel is not None:
        cancel = NexusOperationCancellationInfo(state=op.cancel.state, attempt=op.cancel.attempt)  # type: ignore[arg-type]
        cancel.requested_time.CopyFrom(codec.timestamp(op.cancel.requested_time))
        _set_time(cancel, "last_attempt_complete_time", op.cancel.last_attempt_complete_time)
        _set_time(cancel, "next_attempt_schedule_time", op.cancel.next_attempt_schedule_time)
        if op.cancel.last_attempt_failure is not None:
            cancel.last_attempt_failure.CopyFrom(op.cancel.last_attempt_failure)
        pending.cancellation_info.CopyFrom(cancel)
    return pending


def _set_time(message: object, name: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, name).CopyFrom(codec.timestamp(value))
