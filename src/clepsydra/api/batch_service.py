"""WorkflowService RPCs for batch operations (`temporal workflow terminate --query ...`, `temporal batch`)."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    DescribeBatchOperationResponse,
    ListBatchOperationsRequest,
    ListBatchOperationsResponse,
    StartBatchOperationRequest,
    StartBatchOperationResponse,
    StopBatchOperationRequest,
    StopBatchOperationResponse,
)

from clepsydra.batch.jobs import BatchJobs

Context = grpc.aio.ServicerContext


class BatchService:
    def __init__(self, jobs: BatchJobs) -> None:
        self.jobs = jobs

    async def StartBatchOperation(
        self, request: StartBatchOperationRequest, context: Context
    ) -> StartBatchOperationResponse:
        await self.jobs.start(request)
        return StartBatchOperationResponse()

    async def DescribeBatchOperation(
        self, request: DescribeBatchOperationRequest, context: Context
    ) -> DescribeBatchOperationResponse:
        return await self.jobs.describe(request.namespace, request.job_id)

    async def ListBatchOperations(
        self, request: ListBatchOperationsRequest, context: Context
    ) -> ListBatchOperationsResponse:
        return await self.jobs.list(request.namespace, request.page_size, request.next_page_token)

    async def StopBatchOperation(
        self, request: StopBatchOperationRequest, context: Context
    ) -> StopBatchOperationResponse:
        await self.jobs.stop(request.namespace, request.job_id)
        return StopBatchOperationResponse()
