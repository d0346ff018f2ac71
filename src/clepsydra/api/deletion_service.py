"""WorkflowService.DeleteWorkflowExecution: a running run is terminated, then deleted."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest, DeleteWorkflowExecutionResponse

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.errors import InvalidArgument
from clepsydra.history.core import HistoryCore
from clepsydra.services.namespaces import Namespaces

Context = grpc.aio.ServicerContext


class DeletionService:
    def __init__(self, namespaces: Namespaces, core: HistoryCore, deleter: RunDeleter) -> None:
        self.namespaces = namespaces
        self.core = core
        self.deleter = deleter

    async def DeleteWorkflowExecution(
        self, request: DeleteWorkflowExecutionRequest, context: Context
    ) -> DeleteWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        execution = request.workflow_execution
        if not execution.workflow_id:
            raise InvalidArgument("Execution is not set on request.")
        key = await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        await self.deleter.delete(key)
        return DeleteWorkflowExecutionResponse()
