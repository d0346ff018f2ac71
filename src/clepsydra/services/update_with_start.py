"""Update-with-start (ExecuteMultiOperation): start a workflow, or find it, and update it.

The order of decisions is the reference server's. A current run that already knows the
update id answers for it: its outcome if it completed (even on a closed run, whatever the
reuse policy), or the update itself if it is admitted or accepted on a running workflow.
A running workflow also takes the update when the start is a repeat of the one that started
it or its conflict policy is USE_EXISTING. Anything else is a start, under the id reuse and
conflict policies, followed by the update on the new run.

Errors come as the reference sends them: one status per operation in a
MultiOperationExecutionFailure, the operation that did not fail marked aborted (or OK when
the start succeeded), and the top-level code taken from the operation that failed.
"""

from __future__ import annotations

from google.protobuf import any_pb2
from google.rpc import code_pb2
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage, WorkflowIdConflictPolicy
from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure
from temporalio.api.failure.v1 import MultiOperationExecutionAborted
from temporalio.api.update.v1 import UpdateRef
from temporalio.api.workflowservice.v1 import (
    ExecuteMultiOperationRequest,
    ExecuteMultiOperationResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument, ServiceError
from clepsydra.services.updates import Updates
from clepsydra.services.workflows import Workflows, is_running

COMPLETED = UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
USE_EXISTING = WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
ABORTED_MESSAGE = "Operation was aborted."


class MultiOperationFailed(ServiceError):
    """The error of an ExecuteMultiOperation: one status per operation (None: it succeeded,
    ABORTED: it was not tried because the other one failed)."""

    def __init__(self, errors: list[ServiceError | None]) -> None:
        failed = next(e for e in errors if e is not None and not isinstance(e, _Aborted))
        super().__init__(
            "Update-with-Start could not be executed.",
            MultiOperationExecutionFailure(statuses=[_status(e) for e in errors]),
        )
        self.code_name = failed.code_name


class _Aborted(ServiceError):
    code_name = "ABORTED"

    def __init__(self) -> None:
        super().__init__(ABORTED_MESSAGE, MultiOperationExecutionAborted())


def _status(error: ServiceError | None) -> MultiOperationExecutionFailure.OperationStatus:
    if error is None:
        return MultiOperationExecutionFailure.OperationStatus(code=code_pb2.OK)
    details = []
    if error.detail is not None:
        packed = any_pb2.Any()
        packed.Pack(error.detail)
        details.append(packed)
    return MultiOperationExecutionFailure.OperationStatus(
        code=code_pb2.Code.Value(error.code_name), message=error.message, details=details
    )


async def execute(
    workflows: Workflows,
    updates: Updates,
    namespace_id: str,
    namespace: str,
    request: ExecuteMultiOperationRequest,
    timeout: float,
) -> ExecuteMultiOperationResponse:
    if len(request.operations) != 2 or not (
        request.operations[0].HasField("start_workflow") and request.operations[1].HasField("update_workflow")
    ):
        raise InvalidArgument("Operations have to be exactly [Start, Update].")
    start = request.operations[0].start_workflow
    update = request.operations[1].update_workflow
    _check(start, update)
    update_id = update.request.meta.update_id

    current = await workflows.core.current(namespace_id, start.workflow_id)
    if current is not None:
        key = ExecutionKey(namespace_id, start.workflow_id, current.run_id)
        seen = await updates.seen(key, update_id) if update_id else None
        existing = StartWorkflowExecutionResponse(
            run_id=current.run_id,
            started=False,
            status=current.status,  # type: ignore[arg-type]
        )
        if seen is not None and seen[0] == COMPLETED:
            ref = UpdateRef(
                workflow_execution=WorkflowExecution(workflow_id=start.workflow_id, run_id=current.run_id),
                update_id=update_id,
            )
            return _response(
                existing, UpdateWorkflowExecutionResponse(update_ref=ref, outcome=seen[1], stage=COMPLETED)
            )
        if is_running(current.status) and (
            seen is not None
            or start.request_id == current.start_request_id
            or start.workflow_id_conflict_policy == USE_EXISTING
        ):
            update.workflow_execution.run_id = current.run_id
            try:
                updated = await updates.update(namespace_id, update, timeout)
            except ServiceError as error:
                raise MultiOperationFailed([_Aborted(), error]) from None
            return _response(existing, updated)
    try:
        started = await workflows.start(namespace_id, namespace, start)
    except ServiceError as error:
        raise MultiOperationFailed([error, _Aborted()]) from None
    update.workflow_execution.run_id = started.run_id
    try:
        updated = await updates.update(namespace_id, update, timeout)
    except ServiceError as error:
        raise MultiOperationFailed([None, error]) from None
    return _response(started, updated)


def _check(start: StartWorkflowExecutionRequest, update: UpdateWorkflowExecutionRequest) -> None:
    """What an update-with-start may not ask, each refused in its operation's status."""
    errors: list[ServiceError | None] = [_Aborted(), _Aborted()]
    if start.cron_schedule:
        errors[0] = InvalidArgument("CronSchedule is not allowed.")
    elif start.request_eager_execution:
        errors[0] = InvalidArgument("RequestEagerExecution is not supported.")
    elif start.workflow_start_delay.ToTimedelta().total_seconds() > 0:
        errors[0] = InvalidArgument("WorkflowStartDelay is not supported.")
    if update.first_execution_run_id:
        errors[1] = InvalidArgument("FirstExecutionRunId is not allowed.")
    elif update.workflow_execution.run_id:
        errors[1] = InvalidArgument("RunId is not allowed.")
    elif start.workflow_id != update.workflow_execution.workflow_id:
        errors[1] = InvalidArgument("WorkflowId is not consistent with previous operation(s).")
    if any(not isinstance(e, _Aborted) for e in errors):
        raise MultiOperationFailed(errors)


def _response(
    started: StartWorkflowExecutionResponse, updated: UpdateWorkflowExecutionResponse
) -> ExecuteMultiOperationResponse:
    return ExecuteMultiOperationResponse(
        responses=[
            ExecuteMultiOperationResponse.Response(start_workflow=started),
            ExecuteMultiOperationResponse.Response(update_workflow=updated),
        ]
    )
