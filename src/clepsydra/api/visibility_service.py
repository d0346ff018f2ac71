"""WorkflowService RPCs that list, count and scan runs, and the search attributes they can use."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    CountWorkflowExecutionsResponse,
    GetSearchAttributesRequest,
    GetSearchAttributesResponse,
    ListClosedWorkflowExecutionsRequest,
    ListClosedWorkflowExecutionsResponse,
    ListOpenWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsResponse,
    ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
    ScanWorkflowExecutionsRequest,
    ScanWorkflowExecutionsResponse,
)

from clepsydra.services.search_attributes import storage_columns
from clepsydra.services.visibility import Visibility
from clepsydra.visibility.attributes import system_types

Context = grpc.aio.ServicerContext


class VisibilityService:
    def __init__(self, visibility: Visibility) -> None:
        self.visibility = visibility

    async def ListWorkflowExecutions(
        self, request: ListWorkflowExecutionsRequest, context: Context
    ) -> ListWorkflowExecutionsResponse:
        executions, token = await self.visibility.list(
            request.namespace, request.query, request.page_size, request.next_page_token
        )
        return ListWorkflowExecutionsResponse(executions=executions, next_page_token=token)

    async def ScanWorkflowExecutions(
        self, request: ScanWorkflowExecutionsRequest, context: Context
    ) -> ScanWorkflowExecutionsResponse:
        executions, token = await self.visibility.list(
            request.namespace, request.query, request.page_size, request.next_page_token
        )
        return ScanWorkflowExecutionsResponse(executions=executions, next_page_token=token)

    async def CountWorkflowExecutions(
        self, request: CountWorkflowExecutionsRequest, context: Context
    ) -> CountWorkflowExecutionsResponse:
        return await self.visibility.count(request.namespace, request.query)

    async def ListOpenWorkflowExecutions(
        self, request: ListOpenWorkflowExecutionsRequest, context: Context
    ) -> ListOpenWorkflowExecutionsResponse:
        executions, token = await self.visibility.list_open(request)
        return ListOpenWorkflowExecutionsResponse(executions=executions, next_page_token=token)

    async def ListClosedWorkflowExecutions(
        self, request: ListClosedWorkflowExecutionsRequest, context: Context
    ) -> ListClosedWorkflowExecutionsResponse:
        executions, token = await self.visibility.list_closed(request)
        return ListClosedWorkflowExecutionsResponse(executions=executions, next_page_token=token)

    async def GetSearchAttributes(
        self, request: GetSearchAttributesRequest, context: Context
    ) -> GetSearchAttributesResponse:
        # As the reference: every attribute name the server knows, custom columns included.
        keys = {name: t.indexed_value_type for name, t in {**system_types(), **storage_columns()}.items()}
        return GetSearchAttributesResponse(keys=keys)
