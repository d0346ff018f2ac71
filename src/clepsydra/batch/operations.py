"""What a batch job does to each run, through the same services as the single-run RPCs."""

from __future__ import annotations

from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationType, EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    RequestCancelWorkflowExecutionRequest,
    ResetActivityRequest,
    ResetWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartBatchOperationRequest,
    TerminateWorkflowExecutionRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
    UpdateWorkflowExecutionOptionsRequest,
)

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.engine import standalone_activities
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument, Unimplemented
from clepsydra.history.core import HistoryCore
from clepsydra.services.activity_operations import ActivityOperations
from clepsydra.services.standalone_activities import StandaloneActivities
from clepsydra.services.workflows import Workflows

Type = BatchOperationType
# The request's operation → the type DescribeBatchOperation reports (as the reference does).
SUPPORTED = {
    "termination_operation": Type.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW,
    "cancellation_operation": Type.BATCH_OPERATION_TYPE_CANCEL_WORKFLOW,
    "signal_operation": Type.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW,
    "deletion_operation": Type.BATCH_OPERATION_TYPE_DELETE_WORKFLOW,
    "reset_operation": Type.BATCH_OPERATION_TYPE_RESET_WORKFLOW,
    "update_workflow_options_operation": Type.BATCH_OPERATION_TYPE_UPDATE_WORKFLOW_EXECUTION_OPTIONS,
    "unpause_activities_operation": Type.BATCH_OPERATION_TYPE_UNPAUSE_ACTIVITY,
    "reset_activities_operation": Type.BATCH_OPERATION_TYPE_RESET_ACTIVITY,
    "update_activity_options_operation": Type.BATCH_OPERATION_TYPE_UPDATE_ACTIVITY_OPTIONS,
    "cancel_activities_operation": Type.BATCH_OPERATION_TYPE_CANCEL_ACTIVITY,
    "terminate_activities_operation": Type.BATCH_OPERATION_TYPE_TERMINATE_ACTIVITY,
    "delete_activities_operation": Type.BATCH_OPERATION_TYPE_DELETE_ACTIVITY,
}
# Operations on standalone activities: their query selects activities, not workflows.
ON_STANDALONE_ACTIVITIES = {
    "cancel_activities_operation",
    "terminate_activities_operation",
    "delete_activities_operation",
}


def operation_type(request: StartBatchOperationRequest) -> Type.ValueType:
    kind = request.WhichOneof("operation")
    if kind is None:
        return Type.BATCH_OPERATION_TYPE_UNSPECIFIED
    if kind not in SUPPORTED:
        raise Unimplemented(f"batch operation {kind} is not supported by Clepsydra yet")
    return SUPPORTED[kind]


def identity_of(request: StartBatchOperationRequest) -> str:
    kind = request.WhichOneof("operation")
    return getattr(request, kind).identity if kind else ""


def on_standalone_activities(request: StartBatchOperationRequest) -> bool:
    return request.WhichOneof("operation") in ON_STANDALONE_ACTIVITIES


class BatchOperations:
    def __init__(
        self,
        workflows: Workflows,
        deleter: RunDeleter,
        activities: ActivityOperations,
        standalone: StandaloneActivities,
        core: HistoryCore,
    ) -> None:
        self.workflows = workflows
        self.deleter = deleter
        self.activities = activities
        self.standalone = standalone
        self.core = core

    async def apply(self, job_id: str, request: StartBatchOperationRequest, key: ExecutionKey) -> None:
        """Raises the single-run RPC's error (e.g. NotFound for a run that already closed)."""
        execution = WorkflowExecution(workflow_id=key.workflow_id, run_id=key.run_id)
        namespace = request.namespace
        kind = request.WhichOneof("operation")
        if kind == "termination_operation":
            termination = request.termination_operation
            await self.workflows.terminate(
                key.namespace_id,
                TerminateWorkflowExecutionRequest(
                    namespace=namespace,
                    workflow_execution=execution,
                    reason=request.reason,
                    details=termination.details if termination.HasField("details") else None,
                    identity=termination.identity,
                ),
            )
        elif kind == "cancellation_operation":
            await self.workflows.request_cancel(
                key.namespace_id,
                RequestCancelWorkflowExecutionRequest(
                    namespace=namespace,
                    workflow_execution=execution,
                    reason=request.reason,
                    identity=request.cancellation_operation.identity,
                    request_id=f"batch:{job_id}:{key.run_id}",
                ),
            )
        elif kind == "signal_operation":
            signal = request.signal_operation
            await self.workflows.signal(
                key.namespace_id,
                SignalWorkflowExecutionRequest(
                    namespace=namespace,
                    workflow_execution=execution,
                    signal_name=signal.signal,
                    input=signal.input if signal.HasField("input") else None,
                    header=signal.header if signal.HasField("header") else None,
                    identity=signal.identity,
                    # Deduplicates the signal if the job resumes after a crash.
                    request_id=f"batch:{job_id}:{key.run_id}",
                ),
            )
        elif kind == "deletion_operation":
            await self.deleter.delete(key, request.deletion_operation.identity)
        elif kind in ON_STANDALONE_ACTIVITIES:
            await self._on_standalone_activity(request, key)
        elif kind == "reset_operation":
            await self._reset(job_id, request, key, execution)
        elif kind == "update_workflow_options_operation":
            update = request.update_workflow_options_operation
            await self.workflows.update_options(
                key.namespace_id,
                UpdateWorkflowExecutionOptionsRequest(
                    namespace=namespace,
                    workflow_execution=execution,
                    workflow_execution_options=update.workflow_execution_options,
                    update_mask=update.update_mask,
                    identity=update.identity,
                ),
            )
        elif kind == "unpause_activities_operation":
            unpause = request.unpause_activities_operation
            await self.activities.unpause(
                key.namespace_id,
                UnpauseActivityRequest(
                    namespace=namespace,
                    execution=execution,
                    identity=unpause.identity,
                    reset_attempts=unpause.reset_attempts,
                    reset_heartbeat=unpause.reset_heartbeat,
                    jitter=unpause.jitter,
                    **_activities(unpause, "unpause_all"),
                ),
            )
        elif kind == "reset_activities_operation":
            reset = request.reset_activities_operation
            await self.activities.reset(
                key.namespace_id,
                ResetActivityRequest(
                    namespace=namespace,
                    execution=execution,
                    identity=reset.identity,
                    reset_heartbeat=reset.reset_heartbeat,
                    keep_paused=reset.keep_paused,
                    jitter=reset.jitter,
                    restore_original_options=reset.restore_original_options,
                    **_activities(reset),
                ),
            )
        elif kind == "update_activity_options_operation":
            options = request.update_activity_options_operation
            await self.activities.update_options(
                key.namespace_id,
                UpdateActivityOptionsRequest(
                    namespace=namespace,
                    execution=execution,
                    identity=options.identity,
                    activity_options=options.activity_options,
                    update_mask=options.update_mask,
                    restore_original=options.restore_original,
                    **_activities(options),
                ),
            )

    async def _on_standalone_activity(self, request: StartBatchOperationRequest, key: ExecutionKey) -> None:
        activity_id = key.workflow_id.removeprefix(standalone_activities.PREFIX)
        kind = request.WhichOneof("operation")
        if kind == "cancel_activities_operation":
            cancel = request.cancel_activities_operation
            reason = cancel.reason or request.reason
            await self.standalone.request_cancel(key.namespace_id, activity_id, key.run_id, reason)
        elif kind == "terminate_activities_operation":
            terminate = request.terminate_activities_operation
            reason = terminate.reason or request.reason
            await self.standalone.terminate(
                key.namespace_id, activity_id, key.run_id, reason, terminate.identity
            )
        else:
            await self.deleter.delete(key)

    async def _reset(
        self,
        job_id: str,
        request: StartBatchOperationRequest,
        key: ExecutionKey,
        execution: WorkflowExecution,
    ) -> None:
        """Reset the run to the workflow task its options name (its first, its last, or one by id)."""
        reset = request.reset_operation
        options = reset.options
        target = options.WhichOneof("target")
        if target == "workflow_task_id":
            event_id = options.workflow_task_id
        elif target in ("first_workflow_task", "last_workflow_task"):
            events = await self.core.events(key, 1)
            event_id = _workflow_task_to_reset_to(events, first=target == "first_workflow_task")
        else:
            raise InvalidArgument(f"provided reset target ({target}) is not supported.")
        await self.workflows.reset(
            key.namespace_id,
            ResetWorkflowExecutionRequest(
                namespace=request.namespace,
                workflow_execution=execution,
                reason=request.reason,
                workflow_task_finish_event_id=event_id,
                request_id=f"batch:{job_id}:{key.run_id}",
                reset_reapply_type=options.reset_reapply_type or reset.reset_reapply_type,
                identity=reset.identity,
            ),
        )


def _activities(operation: Any, every: str = "match_all") -> dict[str, Any]:
    """The request fields naming the activities an activity batch operation targets."""
    if operation.WhichOneof("activity") == "type":
        return {"type": operation.type}
    return {every: True}


def _workflow_task_to_reset_to(events: list[HistoryEvent], first: bool) -> int:
    """As the reference's batch reset finds it: the first (or last) completed workflow task,
    or, if none completed, the one after the first (or last) that was scheduled."""
    found = 0
    for event in events if first else reversed(events):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return event.event_id
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED and not (first and found):
            found = event.event_id + 1
    if not found:
        raise InvalidArgument("unable to find any scheduled or completed task")
    return found
