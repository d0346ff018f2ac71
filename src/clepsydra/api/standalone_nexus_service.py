"""The RPCs of standalone Nexus operations, started and awaited by a client with no workflow
(temporal.api.workflowservice.v1.WorkflowService)."""

from __future__ import annotations

import uuid

import grpc
from temporalio.api.workflowservice.v1 import (
    CountNexusOperationExecutionsRequest,
    CountNexusOperationExecutionsResponse,
    DeleteNexusOperationExecutionRequest,
    DeleteNexusOperationExecutionResponse,
    DescribeNexusOperationExecutionRequest,
    DescribeNexusOperationExecutionResponse,
    ListNexusOperationExecutionsRequest,
    ListNexusOperationExecutionsResponse,
    PollNexusOperationExecutionRequest,
    PollNexusOperationExecutionResponse,
    RequestCancelNexusOperationExecutionRequest,
    RequestCancelNexusOperationExecutionResponse,
    StartNexusOperationExecutionRequest,
    StartNexusOperationExecutionResponse,
    TerminateNexusOperationExecutionRequest,
    TerminateNexusOperationExecutionResponse,
)

from clepsydra.api.standalone_activity_service import _long_poll
from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.nexus_visibility import list_info
from clepsydra.services.standalone_nexus import StandaloneNexusOperations
from clepsydra.services.visibility import Visibility

Context = grpc.aio.ServicerContext


class StandaloneNexusService:
    def __init__(
        self,
        namespaces: Namespaces,
        operations: StandaloneNexusOperations,
        visibility: Visibility,
        deleter: RunDeleter,
    ) -> None:
        self.namespaces = namespaces
        self.operations = operations
        self.visibility = visibility
        self.deleter = deleter

    async def StartNexusOperationExecution(
        self, request: StartNexusOperationExecutionRequest, context: Context
    ) -> StartNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.operations.start(namespace_id, request.namespace, request)

    async def DescribeNexusOperationExecution(
        self, request: DescribeNexusOperationExecutionRequest, context: Context
    ) -> DescribeNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.operations.describe(namespace_id, request, _long_poll(context))

    async def PollNexusOperationExecution(
        self, request: PollNexusOperationExecutionRequest, context: Context
    ) -> PollNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.operations.poll(
            namespace_id, request.operation_id, request.run_id, request.wait_stage, _long_poll(context)
        )

    async def ListNexusOperationExecutions(
        self, request: ListNexusOperationExecutionsRequest, context: Context
    ) -> ListNexusOperationExecutionsResponse:
        records, token = await self.visibility.list_nexus_operations(
            request.namespace, request.query, request.page_size, request.next_page_token
        )
        return ListNexusOperationExecutionsResponse(
            operations=[list_info(r) for r in records], next_page_token=token
        )

    async def CountNexusOperationExecutions(
        self, request: CountNexusOperationExecutionsRequest, context: Context
    ) -> CountNexusOperationExecutionsResponse:
        counted = await self.visibility.count_nexus_operations(request.namespace, request.query)
        response = CountNexusOperationExecutionsResponse(count=counted.count)
        for group in counted.groups:
            response.groups.add(count=group.count, group_values=group.group_values)
        return response

    async def RequestCancelNexusOperationExecution(
        self, request: RequestCancelNexusOperationExecutionRequest, context: Context
    ) -> RequestCancelNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.operations.request_cancel(
            namespace_id, request.operation_id, request.run_id, request.reason
        )
        return RequestCancelNexusOperationExecutionResponse()

    async def TerminateNexusOperationExecution(
        self, request: TerminateNexusOperationExecutionRequest, context: Context
    ) -> TerminateNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.operations.terminate(
            namespace_id,
            request.operation_id,
            request.run_id,
            request.reason,
            request.identity,
            request.request_id or str(uuid.uuid4()),
        )
        return TerminateNexusOperationExecutionResponse()

    async def DeleteNexusOperationExecution(
        self, request: DeleteNexusOperationExecutionRequest, context: Context
    ) -> DeleteNexusOperationExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        key = await self.operations.resolve(namespace_id, request.operation_id, request.run_id)
        await self.deleter.delete(key)
        return DeleteNexusOperationExecutionResponse()
