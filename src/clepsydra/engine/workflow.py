"""The workflow execution itself: start, signals, cancel requests, and every way it closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.command.v1 import (
    CancelWorkflowExecutionCommandAttributes,
    CompleteWorkflowExecutionCommandAttributes,
    FailWorkflowExecutionCommandAttributes,
    ModifyWorkflowPropertiesCommandAttributes,
    RecordMarkerCommandAttributes,
    UpsertWorkflowSearchAttributesCommandAttributes,
)
from temporalio.api.common.v1 import Header, Payloads
from temporalio.api.enums.v1 import EventType, RetryState, WorkflowExecutionStatus
from temporalio.api.history.v1 import (
    MarkerRecordedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes,
    WorkflowExecutionCanceledEventAttributes,
    WorkflowExecutionCancelRequestedEventAttributes,
    WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionTerminatedEventAttributes,
    WorkflowExecutionTimedOutEventAttributes,
    WorkflowPropertiesModifiedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from clepsydra.engine import workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask

Status = WorkflowExecutionStatus
DEFAULT_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
MAX_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=120)
_ZERO = timedelta(0)


def new_execution(
    namespace_id: str,
    namespace: str,
    request: StartWorkflowExecutionRequest,
    run_id: str,
    now: datetime,
) -> ExecutionState:
    """The state of a run about to start; `start` then writes its first events."""
    execution_timeout = request.workflow_execution_timeout.ToTimedelta()
    run_timeout = request.workflow_run_timeout.ToTimedelta()
    if run_timeout == _ZERO or (_ZERO < execution_timeout < run_timeout):
        run_timeout = execution_timeout
    task_timeout = request.workflow_task_timeout.ToTimedelta() or DEFAULT_WORKFLOW_TASK_TIMEOUT
    if run_timeout > _ZERO:
        task_timeout = min(task_timeout, run_timeout)
    task_timeout = min(task_timeout, MAX_WORKFLOW_TASK_TIMEOUT)

    start = WorkflowExecutionStartedEventAttributes(
        workflow_id=request.workflow_id,
        workflow_type=request.workflow_type,
        task_queue=TaskQueue(name=request.task_queue.name, kind=1),
        header=request.header,
        input=request.input,
        identity=request.identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
        cron_schedule=request.cron_schedule,
        memo=request.memo,
        search_attributes=request.search_attributes,
        priority=request.priority,
    )
    start.workflow_execution_timeout.FromTimedelta(execution_timeout)
    start.workflow_run_timeout.FromTimedelta(run_timeout)
    start.workflow_task_timeout.FromTimedelta(task_timeout)
    if request.HasField("retry_policy"):
        start.retry_policy.CopyFrom(request.retry_policy)
    if execution_timeout > _ZERO:
        start.workflow_execution_expiration_time.FromDatetime(now + execution_timeout)
    start.first_workflow_task_backoff.FromTimedelta(max(request.workflow_start_delay.ToTimedelta(), _ZERO))
    return ExecutionState(
        namespace_id=namespace_id,
        namespace=namespace,
        workflow_id=request.workflow_id,
        run_id=run_id,
        first_run_id=run_id,
        start=start,
        start_time=now,
        start_request_id=request.request_id,
        memo=request.memo,
        search_attributes=request.search_attributes,
    )


def start(m: Mutation, signal: WorkflowExecutionSignaledEventAttributes | None = None) -> None:
    s = m.state
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, s.start)
    m.visibility_changed = True
    if signal is not None:
        m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, signal)
        if signal.request_id:
            s.signal_request_ids.append(signal.request_id)
    run_timeout = s.start.workflow_run_timeout.ToTimedelta()
    if run_timeout > _ZERO:
        m.add_timer(TimerTask(TimerKind.WORKFLOW_RUN_TIMEOUT, s.start_time + run_timeout))
    delay = s.start.first_workflow_task_backoff.ToTimedelta()
    if delay > _ZERO:
        m.add_timer(TimerTask(TimerKind.WORKFLOW_START_BACKOFF, s.start_time + delay))
    else:
        workflow_task.schedule(m)


def signal(
    m: Mutation,
    name: str,
    payloads: Payloads | None,
    identity: str,
    header: Header | None,
    request_id: str,
) -> None:
    s = m.state
    if request_id and request_id in s.signal_request_ids:
        return
    attributes = WorkflowExecutionSignaledEventAttributes(
        signal_name=name, identity=identity, request_id=request_id
    )
    if payloads is not None:
        attributes.input.CopyFrom(payloads)
    if header is not None:
        attributes.header.CopyFrom(header)
    if request_id:
        s.signal_request_ids.append(request_id)
    m.add_external_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, attributes)


def request_cancel(m: Mutation, reason: str, identity: str, request_id: str) -> None:
    s = m.state
    if s.cancel_requested:
        return
    s.cancel_requested = True
    s.cancel_request_id = request_id
    m.add_external_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
        WorkflowExecutionCancelRequestedEventAttributes(cause=reason, identity=identity),
    )


def terminate(m: Mutation, reason: str, details: Payloads | None, identity: str) -> None:
    m.flush_buffered_events()
    attributes = WorkflowExecutionTerminatedEventAttributes(reason=reason, identity=identity)
    if details is not None:
        attributes.details.CopyFrom(details)
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, attributes)
    _close(m, Status.WORKFLOW_EXECUTION_STATUS_TERMINATED)


def time_out(m: Mutation) -> None:
    if not m.state.running:
        return
    m.flush_buffered_events()
    # Past the execution timeout no further run could be tried; a run timeout alone
    # would leave room for a retry if the workflow had a retry policy.
    expiration = m.state.start.workflow_execution_expiration_time
    expired = expiration.seconds and m.now >= expiration.ToDatetime(UTC)
    retry_state = RetryState.RETRY_STATE_TIMEOUT if expired else RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        WorkflowExecutionTimedOutEventAttributes(retry_state=retry_state),
    )
    _close(m, Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT)


def complete(
    m: Mutation, completed_event_id: int, command: CompleteWorkflowExecutionCommandAttributes
) -> None:
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        WorkflowExecutionCompletedEventAttributes(
            result=command.result, workflow_task_completed_event_id=completed_event_id
        ),
    )
    _close(m, Status.WORKFLOW_EXECUTION_STATUS_COMPLETED)


def fail(m: Mutation, completed_event_id: int, command: FailWorkflowExecutionCommandAttributes) -> None:
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        WorkflowExecutionFailedEventAttributes(
            failure=command.failure,
            retry_state=RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET,
            workflow_task_completed_event_id=completed_event_id,
        ),
    )
    _close(m, Status.WORKFLOW_EXECUTION_STATUS_FAILED)


def cancel(m: Mutation, completed_event_id: int, command: CancelWorkflowExecutionCommandAttributes) -> None:
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        WorkflowExecutionCanceledEventAttributes(
            details=command.details, workflow_task_completed_event_id=completed_event_id
        ),
    )
    _close(m, Status.WORKFLOW_EXECUTION_STATUS_CANCELED)


def upsert_search_attributes(
    m: Mutation, completed_event_id: int, command: UpsertWorkflowSearchAttributesCommandAttributes
) -> None:
    m.add_event(
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        UpsertWorkflowSearchAttributesEventAttributes(
            workflow_task_completed_event_id=completed_event_id,
            search_attributes=command.search_attributes,
        ),
    )
    _merge(m.state.search_attributes.indexed_fields, command.search_attributes.indexed_fields)
    m.visibility_changed = True


def modify_properties(
    m: Mutation, completed_event_id: int, command: ModifyWorkflowPropertiesCommandAttributes
) -> None:
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        WorkflowPropertiesModifiedEventAttributes(
            workflow_task_completed_event_id=completed_event_id,
            upserted_memo=command.upserted_memo,
        ),
    )
    _merge(m.state.memo.fields, command.upserted_memo.fields)
    m.visibility_changed = True


def _merge(target, updates) -> None:  # type: ignore[no-untyped-def] - protobuf map fields
    """Upsert semantics: a value with no data removes the key."""
    for name, payload in updates.items():
        if payload.metadata.get("encoding") == b"binary/null" or payload.data == b"null":
            target.pop(name, None)
        else:
            target[name].CopyFrom(payload)


def _close(m: Mutation, status: Status.ValueType) -> None:
    s = m.state
    s.status = status
    s.close_time = m.now
    s.workflow_task = None
    s.activities.clear()
    s.timers.clear()
    s.buffered_events = []
    m.closed = True
    m.visibility_changed = True
    m.touch()


def record_marker(m: Mutation, completed_event_id: int, command: RecordMarkerCommandAttributes) -> None:
    attributes = MarkerRecordedEventAttributes(
        marker_name=command.marker_name,
        header=command.header,
        workflow_task_completed_event_id=completed_event_id,
    )
    for name, payloads in command.details.items():
        attributes.details[name].CopyFrom(payloads)
    if command.HasField("failure"):
        attributes.failure.CopyFrom(command.failure)
    m.add_event(EventType.EVENT_TYPE_MARKER_RECORDED, attributes)
