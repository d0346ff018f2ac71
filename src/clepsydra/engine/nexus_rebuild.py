"""Nexus operations in a run rebuilt from history (a reset): what the events say of each
operation, and resuming the ones still pending in the new run.

An operation not started yet is started again (its request id is kept, so a handler that
had started it answers with the same operation); a started one waits for its completion,
which its callback still delivers: the callback names the old run, and its delivery falls
back to the workflow's current run when that run holds the operation's request id
(services/nexus_callbacks.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TimeoutType
from temporalio.api.history.v1 import HistoryEvent

from clepsydra.engine import nexus_operations
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_state import CancelState, NexusCancel, NexusOperationInfo, OperationState
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask, TransferKind, TransferTask

_CLOSING = (
    "nexus_operation_completed_event_attributes",
    "nexus_operation_failed_event_attributes",
    "nexus_operation_canceled_event_attributes",
    "nexus_operation_timed_out_event_attributes",
)


def apply(s: ExecutionState, event: HistoryEvent) -> None:
    """Take in one event of the history being rebuilt, if it is a Nexus operation's."""
    kind = event.WhichOneof("attributes")
    if kind is None or not kind.startswith("nexus_operation_"):
        return
    a = getattr(event, kind)
    operations = nexus_operations.nexus_of(s).operations
    when = event.event_time.ToDatetime(UTC)
    if kind == "nexus_operation_scheduled_event_attributes":
        operations[event.event_id] = NexusOperationInfo(
            scheduled_event_id=event.event_id,
            endpoint=a.endpoint,
            endpoint_id=a.endpoint_id,
            service=a.service,
            operation=a.operation,
            request_id=a.request_id,
            scheduled_time=when,
            input=a.input if a.HasField("input") else None,
            header=dict(a.nexus_header),
            schedule_to_close_timeout=a.schedule_to_close_timeout.ToTimedelta(),
            schedule_to_start_timeout=a.schedule_to_start_timeout.ToTimedelta(),
            start_to_close_timeout=a.start_to_close_timeout.ToTimedelta(),
        )
        return
    info = operations.get(a.scheduled_event_id)
    if info is None:
        return
    if kind == "nexus_operation_started_event_attributes":
        info.state = OperationState.PENDING_NEXUS_OPERATION_STATE_STARTED
        info.operation_token = a.operation_token or a.operation_id
        info.started_time = when
    elif kind in _CLOSING:
        del operations[a.scheduled_event_id]
    elif kind == "nexus_operation_cancel_requested_event_attributes":
        info.cancel = NexusCancel(event.event_id, when)
    elif info.cancel is not None and kind == "nexus_operation_cancel_request_completed_event_attributes":
        info.cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED
    elif info.cancel is not None and kind == "nexus_operation_cancel_request_failed_event_attributes":
        info.cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_FAILED


def resume(m: Mutation) -> None:
    """The new run's pending operations go on: requests sent again, timeouts set again."""
    if m.state.nexus is None:
        return
    for info in m.state.nexus.operations.values():
        timers: list[tuple[timedelta, datetime | None, TimeoutType.ValueType]] = [
            (info.schedule_to_close_timeout, info.scheduled_time, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)
        ]
        if info.started:
            timers.append(
                (info.start_to_close_timeout, info.started_time, TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE)
            )
            cancel = info.cancel
            if (
                cancel is not None
                and cancel.state == CancelState.NEXUS_OPERATION_CANCELLATION_STATE_UNSPECIFIED
            ):
                cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED
                cancel.attempt += 1
                m.add_transfer(TransferTask(TransferKind.NEXUS_CANCEL, info.scheduled_event_id))
        else:
            timers.append(
                (
                    info.schedule_to_start_timeout,
                    info.scheduled_time,
                    TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
                )
            )
            m.add_transfer(TransferTask(TransferKind.NEXUS_START, info.scheduled_event_id))
        for timeout, since, timeout_type in timers:
            if timeout and since is not None:
                m.add_timer(
                    TimerTask(
                        TimerKind.NEXUS_TIMEOUT,
                        since + timeout,
                        info.scheduled_event_id,
                        timeout_type=timeout_type,
                    )
                )
