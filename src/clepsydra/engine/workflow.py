"""The workflow execution itself: start, signals, cancel requests, and every way it closes."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Final

from temporalio.api.command.v1 import (
    CancelWorkflowExecutionCommandAttributes,
    CompleteWorkflowExecutionCommandAttributes,
    ContinueAsNewWorkflowExecutionCommandAttributes,
    FailWorkflowExecutionCommandAttributes,
    ModifyWorkflowPropertiesCommandAttributes,
    RecordMarkerCommandAttributes,
    UpsertWorkflowSearchAttributesCommandAttributes,
)
from temporalio.api.common.v1 import Header, Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    ParentClosePolicy,
    TimeoutType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure, TimeoutFailureInfo
from temporalio.api.history.v1 import (
    MarkerRecordedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes,
    WorkflowExecutionCanceledEventAttributes,
    WorkflowExecutionCancelRequestedEventAttributes,
    WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionContinuedAsNewEventAttributes,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionTerminatedEventAttributes,
    WorkflowExecutionTimedOutEventAttributes,
    WorkflowPropertiesModifiedEventAttributes,
)

from clepsydra.engine import dynamic_config, limits, nexus_callbacks, runs
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.tasks import TransferKind, TransferTask
from clepsydra.errors import InvalidArgument

Status = WorkflowExecutionStatus


def signal(
    m: Mutation,
    name: str,
    payloads: Payloads | None,
    identity: str,
    header: Header | None,
    request_id: str,
    sender: WorkflowExecution | None = None,
) -> None:
    s = m.state
    if request_id and request_id in s.signal_request_ids:
        return
    if s.signals_received >= dynamic_config.current().signals_per_execution_limit:
        raise InvalidArgument("exceeded workflow execution limit for signal events")
    s.signals_received += 1
    attributes = WorkflowExecutionSignaledEventAttributes(
        signal_name=name, identity=identity, request_id=request_id, external_workflow_execution=sender
    )
    if payloads is not None:
        attributes.input.CopyFrom(payloads)
    if header is not None:
        attributes.header.CopyFrom(header)
    if request_id:
        s.signal_request_ids.append(request_id)
    m.add_external_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, attributes)


def request_cancel(
    m: Mutation,
    reason: str,
    identity: str,
    request_id: str,
    sender: WorkflowExecution | None = None,
    sender_initiated_event_id: int = 0,
) -> None:
    s = m.state
    if s.cancel_requested:
        return
    s.cancel_requested = True
    s.cancel_request_id = request_id
    m.add_external_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
        WorkflowExecutionCancelRequestedEventAttributes(
            cause=reason,
            identity=identity,
            external_workflow_execution=sender,
            external_initiated_event_id=sender_initiated_event_id,
        ),
    )


def terminate(m: Mutation, reason: str, details: Payloads | None, identity: str) -> None:
    m.flush_buffered_events()
    attributes = WorkflowExecutionTerminatedEventAttributes(reason=reason, identity=identity)
    if details is not None:
        attributes.details.CopyFrom(details)
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, attributes)
    close(m, Status.WORKFLOW_EXECUTION_STATUS_TERMINATED)


def time_out(m: Mutation) -> None:
    if not m.state.running:
        return
    m.flush_buffered_events()
    failure = Failure(
        message="workflow timed out",
        timeout_failure_info=TimeoutFailureInfo(timeout_type=TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE),
    )
    new_run_id, retry_state = runs.retry_or_cron(m, failure)
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        WorkflowExecutionTimedOutEventAttributes(retry_state=retry_state, new_execution_run_id=new_run_id),
    )
    close(m, Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT)


def complete(
    m: Mutation, completed_event_id: int, command: CompleteWorkflowExecutionCommandAttributes
) -> None:
    limits.check_command_blob(
        limits.payloads_size(command.result),
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
        "CompleteWorkflowExecutionCommandAttributes.Result",
    )
    new_run_id = runs.next_cron_run(m, last_completion_result=command.result)
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        WorkflowExecutionCompletedEventAttributes(
            result=command.result,
            workflow_task_completed_event_id=completed_event_id,
            new_execution_run_id=new_run_id,
        ),
    )
    close(m, Status.WORKFLOW_EXECUTION_STATUS_COMPLETED)


def fail(m: Mutation, completed_event_id: int, command: FailWorkflowExecutionCommandAttributes) -> None:
    new_run_id, retry_state = runs.retry_or_cron(m, command.failure)
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        WorkflowExecutionFailedEventAttributes(
            failure=command.failure,
            retry_state=retry_state,
            workflow_task_completed_event_id=completed_event_id,
            new_execution_run_id=new_run_id,
        ),
    )
    close(m, Status.WORKFLOW_EXECUTION_STATUS_FAILED)


def cancel(m: Mutation, completed_event_id: int, command: CancelWorkflowExecutionCommandAttributes) -> None:
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        WorkflowExecutionCanceledEventAttributes(
            details=command.details, workflow_task_completed_event_id=completed_event_id
        ),
    )
    close(m, Status.WORKFLOW_EXECUTION_STATUS_CANCELED)


_CONTINUED_AS_NEW_AS_SET: Final = (
    "backoff_start_interval",
    "failure",
    "last_completion_result",
    "header",
    "memo",
    "search_attributes",
)


def continue_as_new(
    m: Mutation, completed_event_id: int, command: ContinueAsNewWorkflowExecutionCommandAttributes
) -> None:
    new_run_id = runs.continue_as_new(m, command)
    successor = m.successor
    assert successor is not None
    start = successor.state.start
    event = m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        WorkflowExecutionContinuedAsNewEventAttributes(
            new_execution_run_id=new_run_id,
            workflow_type=start.workflow_type,
            task_queue=start.task_queue,
            input=start.input,
            workflow_run_timeout=start.workflow_run_timeout,
            workflow_task_timeout=start.workflow_task_timeout,
            workflow_task_completed_event_id=completed_event_id,
            initiator=command.initiator,
            inherit_build_id=command.inherit_build_id,
        ),
    )
    # As the reference: the command's fields as it set them, none made up when unset.
    attributes = event.workflow_execution_continued_as_new_event_attributes
    for name in _CONTINUED_AS_NEW_AS_SET:
        if command.HasField(name):
            getattr(attributes, name).CopyFrom(getattr(command, name))
    close(m, Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)


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
    merge_payloads(m.state.search_attributes.indexed_fields, command.search_attributes.indexed_fields)
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
    merge_payloads(m.state.memo.fields, command.upserted_memo.fields)
    m.visibility_changed = True


def merge_payloads(target: MutableMapping[str, Payload], updates: Mapping[str, Payload]) -> None:
    """Upsert semantics: a value with no data removes the key.

    `target` is a protobuf map field: looking up a missing key adds an empty message.
    """
    for name, payload in updates.items():
        if payload.metadata.get("encoding") == b"binary/null" or payload.data == b"null":
            target.pop(name, None)
        else:
            target[name].CopyFrom(payload)


def close(m: Mutation, status: Status.ValueType) -> None:
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
    if s.start.parent_workflow_execution.workflow_id and m.successor is None:
        m.add_transfer(TransferTask(TransferKind.NOTIFY_PARENT))
    if s.scheduled_by and m.successor is None:
        m.add_transfer(TransferTask(TransferKind.NOTIFY_SCHEDULER))
    nexus_callbacks.on_close(m)
    if any(
        c.attributes.parent_close_policy != ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON
        for c in s.children.values()
    ):
        m.add_transfer(TransferTask(TransferKind.PARENT_CLOSE_POLICY))


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
