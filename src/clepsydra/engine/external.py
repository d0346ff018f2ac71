"""Signals and cancel requests sent to other workflows: initiated → delivered | failed."""

from __future__ import annotations

from typing import TypedDict

from temporalio.api.command.v1 import (
    RequestCancelExternalWorkflowExecutionCommandAttributes,
    SignalExternalWorkflowExecutionCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    CancelExternalWorkflowExecutionFailedCause,
    EventType,
    SignalExternalWorkflowExecutionFailedCause,
    WorkflowTaskFailedCause,
)
from temporalio.api.history.v1 import (
    ExternalWorkflowExecutionCancelRequestedEventAttributes,
    ExternalWorkflowExecutionSignaledEventAttributes,
    RequestCancelExternalWorkflowExecutionFailedEventAttributes,
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
    SignalExternalWorkflowExecutionFailedEventAttributes,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)

from clepsydra.engine import limits
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.tasks import TransferKind, TransferTask
from clepsydra.engine.workflow_task import CommandError

Cause = WorkflowTaskFailedCause
_NOT_FOUND = "EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND"
NOT_FOUND_SIGNAL = SignalExternalWorkflowExecutionFailedCause.Value(f"SIGNAL_{_NOT_FOUND}")
NOT_FOUND_CANCEL = CancelExternalWorkflowExecutionFailedCause.Value(f"CANCEL_{_NOT_FOUND}")


def signal(
    m: Mutation, completed_event_id: int, command: SignalExternalWorkflowExecutionCommandAttributes
) -> None:
    s = m.state
    if not command.execution.workflow_id:
        raise CommandError(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "WorkflowId is not set on SignalExternalWorkflowExecutionCommand.",
        )
    if not command.signal_name:
        raise CommandError(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "SignalName is not set on SignalExternalWorkflowExecutionCommand.",
        )
    limits.check_pending(
        len(s.signals_out), Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED, "signals"
    )
    limits.check_command_blob(
        limits.payloads_size(command.input),
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
        "SignalExternalWorkflowExecutionCommandAttributes.Input",
    )
    attributes = SignalExternalWorkflowExecutionInitiatedEventAttributes(
        workflow_task_completed_event_id=completed_event_id,
        namespace=s.namespace,
        namespace_id=s.namespace_id,
        workflow_execution=command.execution,
        signal_name=command.signal_name,
        input=command.input,
        control=command.control,
        child_workflow_only=command.child_workflow_only,
        header=command.header,
    )
    event = m.add_event(EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, attributes)
    s.signals_out[event.event_id] = attributes
    m.add_transfer(TransferTask(TransferKind.SIGNAL_EXTERNAL, event.event_id))


def request_cancel(
    m: Mutation, completed_event_id: int, command: RequestCancelExternalWorkflowExecutionCommandAttributes
) -> None:
    s = m.state
    if not command.workflow_id:
        raise CommandError(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            "WorkflowId is not set on RequestCancelExternalWorkflowExecutionCommand.",
        )
    limits.check_pending(
        len(s.cancels_out),
        Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED,
        "cancel requests",
    )
    attributes = RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
        workflow_task_completed_event_id=completed_event_id,
        namespace=s.namespace,
        namespace_id=s.namespace_id,
        workflow_execution=WorkflowExecution(workflow_id=command.workflow_id, run_id=command.run_id),
        control=command.control,
        child_workflow_only=command.child_workflow_only,
        reason=command.reason,
    )
    event = m.add_event(EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, attributes)
    s.cancels_out[event.event_id] = attributes
    m.add_transfer(TransferTask(TransferKind.CANCEL_EXTERNAL, event.event_id))


def record_signal_outcome(m: Mutation, initiated_event_id: int, delivered: bool) -> None:
    a = m.state.signals_out.pop(initiated_event_id, None) if m.state.running else None
    if a is None:
        return
    target = _target(initiated_event_id, a)
    if delivered:
        m.add_external_event(
            EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
            ExternalWorkflowExecutionSignaledEventAttributes(**target, control=a.control),
        )
    else:
        m.add_external_event(
            EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
            SignalExternalWorkflowExecutionFailedEventAttributes(
                **_failure(target, a), cause=NOT_FOUND_SIGNAL
            ),
        )
    m.touch()


def record_cancel_outcome(m: Mutation, initiated_event_id: int, delivered: bool) -> None:
    a = m.state.cancels_out.pop(initiated_event_id, None) if m.state.running else None
    if a is None:
        return
    target = _target(initiated_event_id, a)
    if delivered:
        m.add_external_event(
            EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
            ExternalWorkflowExecutionCancelRequestedEventAttributes(**target),
        )
    else:
        m.add_external_event(
            EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
            RequestCancelExternalWorkflowExecutionFailedEventAttributes(
                **_failure(target, a), cause=NOT_FOUND_CANCEL
            ),
        )
    m.touch()


Initiated = (
    SignalExternalWorkflowExecutionInitiatedEventAttributes
    | RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
)


class _Target(TypedDict):
    """The fields that every outcome event of a signal or cancel request shares."""

    initiated_event_id: int
    namespace: str
    namespace_id: str
    workflow_execution: WorkflowExecution


class _Failure(_Target):
    workflow_task_completed_event_id: int
    control: str


def _target(initiated_event_id: int, a: Initiated) -> _Target:
    return _Target(
        initiated_event_id=initiated_event_id,
        namespace=a.namespace,
        namespace_id=a.namespace_id,
        workflow_execution=a.workflow_execution,
    )


def _failure(target: _Target, a: Initiated) -> _Failure:
    return _Failure(
        **target, workflow_task_completed_event_id=a.workflow_task_completed_event_id, control=a.control
    )
