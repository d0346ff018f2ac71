"""The worker registry's RPCs: workers' heartbeats in, operators' lists and descriptions out
(temporal.api.workflowservice.v1.WorkflowService)."""

from __future__ import annotations

import grpc
from temporalio.api.worker.v1 import WorkerInfo
from temporalio.api.workflowservice.v1 import (
    CountWorkersRequest,
    CountWorkersResponse,
    DescribeWorkerRequest,
    DescribeWorkerResponse,
    ListWorkersRequest,
    ListWorkersResponse,
    RecordWorkerHeartbeatRequest,
    RecordWorkerHeartbeatResponse,
)

from clepsydra.services.namespaces import Namespaces
from clepsydra.services.workers import WorkerRegistry, list_info

Context = grpc.aio.ServicerContext


class WorkerRegistryService:
    def __init__(self, namespaces: Namespaces, registry: WorkerRegistry) -> None:
        self.namespaces = namespaces
        self.registry = registry

    async def RecordWorkerHeartbeat(
        self, request: RecordWorkerHeartbeatRequest, context: Context
    ) -> RecordWorkerHeartbeatResponse:
        self.registry.record(await self.namespaces.id_of(request.namespace), request.worker_heartbeat)
        return RecordWorkerHeartbeatResponse()

    async def ListWorkers(self, request: ListWorkersRequest, context: Context) -> ListWorkersResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        heartbeats, token = self.registry.list(
            namespace_id, request.query, request.page_size, request.next_page_token
        )
        return ListWorkersResponse(
            workers_info=[WorkerInfo(worker_heartbeat=h) for h in heartbeats],
            workers=[list_info(h) for h in heartbeats],
            next_page_token=token,
        )

    async def CountWorkers(self, request: CountWorkersRequest, context: Context) -> CountWorkersResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return CountWorkersResponse(count=self.registry.count(namespace_id, request.query))

    async def DescribeWorker(
        self, request: DescribeWorkerRequest, context: Context
    ) -> DescribeWorkerResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return DescribeWorkerResponse(
            worker_info=self.registry.describe(namespace_id, request.worker_instance_key)
        )
