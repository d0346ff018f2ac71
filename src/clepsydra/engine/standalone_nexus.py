"""Standalone Nexus operations: an operation a client starts and awaits directly, with no
workflow calling it.

Each runs in an execution of its own (workflow id `temporal-sys-nexus:<operation id>`,
hidden from workflow lists by its namespace division) that holds the one operation as a
workflow's operation is held (engine/nexus_operations.py): its Scheduled event, its start
and cancel requests, retries, timeout and completion callback are the same, and so are the
transfer tasks and timers behind them. It has no workflow tasks: when its operation closes,
the execution closes with it and keeps its outcome; terminating it closes both at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from temporalio.api.command.v1 import ScheduleNexusOperationCommandAttributes
from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
from temporalio.api.failure.v1 import Failure, TerminatedFailureInfo
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartNexusOperationExecutionRequest

from clepsydra.engine import nexus_cancels, nexus_operations, start, workflow
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_state import NexusOperationInfo, NexusState, StandaloneNexus
from clepsydra.engine.schedule_views import json_payload
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import FailedPrecondition, InvalidArgument, NotFound

PREFIX = "temporal-sys-nexus:"
DIVISION = "TemporalStandaloneNexusOperation"
DIVISION_ATTRIBUTE = "TemporalNamespaceDivision"


def workflow_id_of(operation_id: str) -> str:
    return PREFIX + operation_id


def not_found(operation_id: str) -> NotFound:
    return NotFound(f"operation not found for ID: {operation_id}")


def standalone_of(s: ExecutionState) -> StandaloneNexus:
    if s.nexus is None or s.nexus.standalone is None:
        raise not_found(s.workflow_id.removeprefix(PREFIX))
    return s.nexus.standalone


def is_standalone(s: ExecutionState) -> bool:
    return s.nexus is not None and s.nexus.standalone is not None


def begin(
    namespace_id: str,
    namespace: str,
    request: StartNexusOperationExecutionRequest,
    endpoint_id: str,
    run_id: str,
    now: datetime,
    new_id: Callable[[], str],
) -> Mutation:
    """The execution of a new standalone operation, its first start request on its way."""
    attributes = WorkflowExecutionStartedEventAttributes(
        workflow_type=WorkflowType(name=request.operation),
        # The endpoint stands where a workflow's task queue would: what lists show and filter.
        task_queue=TaskQueue(name=request.endpoint, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        identity=request.identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
        search_attributes=request.search_attributes,
    )
    if request.HasField("input"):
        attributes.input.CopyFrom(Payloads(payloads=[request.input]))
    attributes.workflow_id = workflow_id_of(request.operation_id)
    attributes.search_attributes.indexed_fields[DIVISION_ATTRIBUTE].CopyFrom(
        json_payload(f'"{DIVISION}"', "Keyword")
    )
    # Lists show the service too: the memo keeps it (engine state is not read for a list).
    attributes.memo.fields["service"].CopyFrom(
        Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(request.service).encode())
    )
    state = start.new_execution(namespace_id, namespace, attributes, run_id, run_id, now, request.request_id)
    m = Mutation(state, now, new_id)
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, attributes)
    m.visibility_changed = True
    command = ScheduleNexusOperationCommandAttributes(
        endpoint=request.endpoint,
        service=request.service,
        operation=request.operation,
        input=request.input,
        schedule_to_close_timeout=request.schedule_to_close_timeout,
        schedule_to_start_timeout=request.schedule_to_start_timeout,
        start_to_close_timeout=request.start_to_close_timeout,
        nexus_header=request.nexus_header,
    )
    scheduled_event_id = state.next_event_id
    try:
        nexus_operations.schedule(
            m,
            0,
            command,
            {request.endpoint: endpoint_id},
            request.user_metadata if request.HasField("user_metadata") else None,
        )
    except CommandError as error:
        raise InvalidArgument(error.message.removeprefix("BadScheduleNexusOperationAttributes: ")) from None
    info = nexus_operations.pending(state, scheduled_event_id)
    assert info is not None and state.nexus is not None
    info.request_id = request.request_id  # the client's request id is the operation's
    m.events[-1].nexus_operation_scheduled_event_attributes.request_id = request.request_id
    state.nexus.standalone = StandaloneNexus(request.operation_id, scheduled_event_id, request.identity)
    return m


def settle(m: Mutation) -> None:
    """After any change: once its operation has closed, the execution closes with its outcome."""
    s = m.state
    nexus = s.nexus
    if nexus is None or nexus.standalone is None:
        return
    standalone = nexus.standalone
    for event in m.events:
        if event.event_type == EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED:
            standalone.links = list(event.links)
    if not s.running or nexus.operations:
        return
    closing = next(e for e in reversed(m.events) if e.event_type in _CLOSING)
    status = _CLOSING[closing.event_type]
    if status == Status.WORKFLOW_EXECUTION_STATUS_COMPLETED:
        attributes = closing.nexus_operation_completed_event_attributes
        standalone.result = attributes.result if attributes.HasField("result") else None
    else:
        standalone.failure = _cause(closing)
    workflow.close(m, status)


def request_cancel(m: Mutation, reason: str) -> None:
    """Ask the operation's handler to cancel it (once it has started)."""
    standalone = standalone_of(m.state)
    info = current_operation(m.state)
    if not m.state.running:
        raise FailedPrecondition("operation already completed")
    if info.cancel is not None:
        return
    standalone.canceled_reason = reason
    nexus_cancels.record_cancel_request(m, info.scheduled_event_id, info)


def terminate(m: Mutation, reason: str, identity: str, request_id: str = "") -> None:
    standalone = standalone_of(m.state)
    if not m.state.running:
        if m.state.status != Status.WORKFLOW_EXECUTION_STATUS_TERMINATED:
            raise FailedPrecondition(f"invalid transition from {_STATE_NAMES.get(m.state.status, 'Closed')}")
        if request_id and request_id == standalone.terminate_request_id:
            return  # the same request, again
        raise FailedPrecondition(f"already terminated with request ID {standalone.terminate_request_id}")
    standalone.final = current_operation(m.state)
    standalone.terminate_request_id = request_id
    standalone.failure = Failure(
        message=reason, terminated_failure_info=TerminatedFailureInfo(identity=identity)
    )
    workflow.terminate(m, reason, None, identity)


def current_operation(s: ExecutionState) -> NexusOperationInfo:
    """The operation as it is now, or as it was when it closed."""
    standalone = standalone_of(s)
    nexus = s.nexus
    assert isinstance(nexus, NexusState)
    info = nexus.operations.get(standalone.scheduled_event_id) or standalone.final
    assert info is not None, "a standalone operation keeps its last state when it closes"
    return info


# The state names the reference gives closed operations in its messages.
_STATE_NAMES = {
    Status.WORKFLOW_EXECUTION_STATUS_COMPLETED: "Succeeded",
    Status.WORKFLOW_EXECUTION_STATUS_FAILED: "Failed",
    Status.WORKFLOW_EXECUTION_STATUS_CANCELED: "Canceled",
    Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: "TimedOut",
    Status.WORKFLOW_EXECUTION_STATUS_TERMINATED: "Terminated",
}
_CLOSING = {
    EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED: Status.WORKFLOW_EXECUTION_STATUS_COMPLETED,
    EventType.EVENT_TYPE_NEXUS_OPERATION_FAILED: Status.WORKFLOW_EXECUTION_STATUS_FAILED,
    EventType.EVENT_TYPE_NEXUS_OPERATION_CANCELED: Status.WORKFLOW_EXECUTION_STATUS_CANCELED,
    EventType.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT: Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
}


def _cause(closing: HistoryEvent) -> Failure:
    """A closed operation's failure is its cause: what a client awaiting it sees."""
    kind = closing.WhichOneof("attributes")
    assert kind is not None
    return getattr(closing, kind).failure.cause
