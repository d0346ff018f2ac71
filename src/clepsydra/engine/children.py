"""Child workflows, as the parent sees them: initiated → started → closed (or failed to start).

The child itself is an ordinary execution; the parent learns of its start and its
close through transfer tasks, which append the events below to the parent.
"""

from __future__ import annotations

from typing import TypedDict

from google.protobuf.message import Message
from temporalio.api.command.v1 import StartChildWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import (
    EventType,
    ParentClosePolicy,
    StartChildWorkflowExecutionFailedCause,
    TaskQueueKind,
    WorkflowIdReusePolicy,
    WorkflowTaskFailedCause,
)
from temporalio.api.history.v1 import (
    ChildWorkflowExecutionCanceledEventAttributes,
    ChildWorkflowExecutionCompletedEventAttributes,
    ChildWorkflowExecutionFailedEventAttributes,
    ChildWorkflowExecutionStartedEventAttributes,
    ChildWorkflowExecutionTerminatedEventAttributes,
    ChildWorkflowExecutionTimedOutEventAttributes,
    HistoryEvent,
    StartChildWorkflowExecutionFailedEventAttributes,
    StartChildWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue

from clepsydra.engine import limits, retry, start
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ChildInfo
from clepsydra.engine.tasks import TransferKind, TransferTask
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import InvalidArgument

BAD_START_CHILD = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES
NORMAL_QUEUE = TaskQueueKind.TASK_QUEUE_KIND_NORMAL


class _ChildClosed(TypedDict):
    """The fields every Child...EventAttributes of a closed child shares."""

    namespace: str
    namespace_id: str
    workflow_execution: WorkflowExecution
    workflow_type: WorkflowType
    initiated_event_id: int
    started_event_id: int


class NotReady(Exception):
    """The parent has not recorded the child's start yet: try again shortly."""


def initiate(
    m: Mutation, completed_event_id: int, command: StartChildWorkflowExecutionCommandAttributes
) -> None:
    s = m.state
    if not command.workflow_id:
        raise CommandError(BAD_START_CHILD, "WorkflowId is not set on StartChildWorkflowExecutionCommand.")
    if not command.workflow_type.name:
        raise CommandError(BAD_START_CHILD, "WorkflowType is not set on StartChildWorkflowExecutionCommand.")
    limits.check_pending(
        len(s.children),
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
        "child workflows",
    )
    limits.check_command_blob(
        limits.payloads_size(command.input),
        BAD_START_CHILD,
        "StartChildWorkflowExecutionCommandAttributes.Input",
    )
    if command.namespace and command.namespace != s.namespace:
        raise CommandError(BAD_START_CHILD, "Child workflows in another namespace are not supported.")
    run_timeout = command.workflow_run_timeout.ToTimedelta()
    attributes = StartChildWorkflowExecutionInitiatedEventAttributes(
        namespace=s.namespace,
        namespace_id=s.namespace_id,
        workflow_id=command.workflow_id,
        workflow_type=command.workflow_type,
        task_queue=TaskQueue(name=command.task_queue.name or s.task_queue, kind=NORMAL_QUEUE),
        input=command.input,
        workflow_execution_timeout=command.workflow_execution_timeout,
        workflow_run_timeout=command.workflow_run_timeout,
        parent_close_policy=command.parent_close_policy or ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
        control=command.control,
        workflow_task_completed_event_id=completed_event_id,
        workflow_id_reuse_policy=command.workflow_id_reuse_policy
        or WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
        cron_schedule=command.cron_schedule,
        header=command.header,
        memo=command.memo,
        search_attributes=command.search_attributes,
        inherit_build_id=command.inherit_build_id,
        priority=command.priority,
    )
    attributes.workflow_task_timeout.FromTimedelta(
        start.task_timeout(command.workflow_task_timeout.ToTimedelta(), run_timeout)
    )
    if command.HasField("retry_policy"):
        try:
            attributes.retry_policy.CopyFrom(retry.with_defaults(command.retry_policy))
        except InvalidArgument as error:
            raise CommandError(BAD_START_CHILD, error.message) from None
    event = m.add_event(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, attributes)
    s.children[event.event_id] = ChildInfo(event.event_id, attributes)
    m.add_transfer(TransferTask(TransferKind.START_CHILD, event.event_id))


def record_started(m: Mutation, initiated_event_id: int, run_id: str) -> None:
    child = m.state.children.get(initiated_event_id) if m.state.running else None
    if child is None or child.started:
        return
    a = child.attributes
    event = m.add_external_event(
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        ChildWorkflowExecutionStartedEventAttributes(
            namespace=a.namespace,
            namespace_id=a.namespace_id,
            initiated_event_id=initiated_event_id,
            workflow_execution=WorkflowExecution(workflow_id=a.workflow_id, run_id=run_id),
            workflow_type=a.workflow_type,
            header=a.header,
        ),
    )
    child.started_event_id = event.event_id
    child.run_id = run_id


def record_start_failed(m: Mutation, initiated_event_id: int) -> None:
    child = m.state.children.get(initiated_event_id) if m.state.running else None
    if child is None or child.started:
        return
    a = child.attributes
    m.add_external_event(
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        StartChildWorkflowExecutionFailedEventAttributes(
            namespace=a.namespace,
            namespace_id=a.namespace_id,
            workflow_id=a.workflow_id,
            workflow_type=a.workflow_type,
            cause=StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
            control=a.control,
            initiated_event_id=initiated_event_id,
            workflow_task_completed_event_id=a.workflow_task_completed_event_id,
        ),
    )
    del m.state.children[initiated_event_id]


def record_closed(m: Mutation, initiated_event_id: int, close: HistoryEvent) -> None:
    """The child's run chain ended with `close`: tell the parent how."""
    s = m.state
    child = s.children.get(initiated_event_id) if s.running else None
    if child is None:
        return
    if not child.started:
        raise NotReady(f"child {child.attributes.workflow_id} has not been recorded as started")
    a = child.attributes
    common: _ChildClosed = {
        "namespace": a.namespace,
        "namespace_id": a.namespace_id,
        "workflow_execution": WorkflowExecution(workflow_id=a.workflow_id, run_id=child.run_id),
        "workflow_type": a.workflow_type,
        "initiated_event_id": initiated_event_id,
        "started_event_id": child.started_event_id,
    }
    attributes: Message
    kind = close.WhichOneof("attributes")
    if kind == "workflow_execution_completed_event_attributes":
        event_type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED
        attributes = ChildWorkflowExecutionCompletedEventAttributes(
            result=close.workflow_execution_completed_event_attributes.result, **common
        )
    elif kind == "workflow_execution_failed_event_attributes":
        closed = close.workflow_execution_failed_event_attributes
        event_type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED
        attributes = ChildWorkflowExecutionFailedEventAttributes(
            failure=closed.failure, retry_state=closed.retry_state, **common
        )
    elif kind == "workflow_execution_canceled_event_attributes":
        event_type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED
        attributes = ChildWorkflowExecutionCanceledEventAttributes(
            details=close.workflow_execution_canceled_event_attributes.details, **common
        )
    elif kind == "workflow_execution_timed_out_event_attributes":
        event_type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT
        attributes = ChildWorkflowExecutionTimedOutEventAttributes(
            retry_state=close.workflow_execution_timed_out_event_attributes.retry_state, **common
        )
    else:
        event_type = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED
        attributes = ChildWorkflowExecutionTerminatedEventAttributes(**common)
    m.add_external_event(event_type, attributes)
    del s.children[initiated_event_id]
