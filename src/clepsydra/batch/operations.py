"""What a batch job does to each run, through the same services as the single-run RPCs."""

from __future__ import annotations

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationType
from temporalio.api.workflowservice.v1 import (
    RequestCancelWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartBatchOperationRequest,
    TerminateWorkflowExecutionRequest,
)

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import Unimplemented
from clepsydra.services.workflows import Workflows

Type = BatchOperationType
# The request's operation → the type DescribeBatchOperation reports (as the reference does).
SUPPORTED = {
    "termination_operation": Type.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW,
    "cancellation_operation": Type.BATCH_OPERATION_TYPE_CANCEL_WORKFLOW,
    "signal_operation": Type.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW,
    "deletion_operation": Type.BATCH_OPERATION_TYPE_DELETE_WORKFLOW,
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


class BatchOperations:
    def __init__(self, workflows: Workflows, deleter: RunDeleter) -> None:
        self.workflows = workflows
        self.deleter = deleter

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
