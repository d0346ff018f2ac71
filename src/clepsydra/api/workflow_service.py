"""The client-facing RPCs of temporal.api.workflowservice.v1.WorkflowService: one coroutine per
RPC, each a thin translation from the request to the services and back. Workers' RPCs are in
`worker_service.py`, the operator-facing ones in the other modules of this package."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    ExecuteMultiOperationRequest,
    ExecuteMultiOperationResponse,
    GetClusterInfoRequest,
    GetClusterInfoResponse,
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    GetWorkflowExecutionHistoryReverseRequest,
    GetWorkflowExecutionHistoryReverseResponse,
    PollWorkflowExecutionUpdateRequest,
    PollWorkflowExecutionUpdateResponse,
    QueryWorkflowRequest,
    QueryWorkflowResponse,
    RequestCancelWorkflowExecutionRequest,
    RequestCancelWorkflowExecutionResponse,
    ResetWorkflowExecutionRequest,
    ResetWorkflowExecutionResponse,
    RespondQueryTaskCompletedRequest,
    RespondQueryTaskCompletedResponse,
    SignalWithStartWorkflowExecutionRequest,
    SignalWithStartWorkflowExecutionResponse,
    SignalWorkflowExecutionRequest,
    SignalWorkflowExecutionResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    TerminateWorkflowExecutionRequest,
    TerminateWorkflowExecutionResponse,
    UpdateWorkflowExecutionOptionsRequest,
    UpdateWorkflowExecutionOptionsResponse,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)

from clepsydra.services import update_with_start
from clepsydra.services.namespaces import CLUSTER_NAME, Namespaces
from clepsydra.services.queries import Queries
from clepsydra.services.reads import HistoryReader
from clepsydra.services.updates import Updates
from clepsydra.services.workflows import Workflows

Context = grpc.aio.ServicerContext
SERVER_VERSION = "1.32.0"
# An update call answers with the stage reached so far after this long; the SDK calls again.
UPDATE_WAIT_SECONDS = 20.0
# A query with no deadline of its own waits this long for a worker to answer.
QUERY_WAIT_SECONDS = 60.0


def _update_wait(context: Context) -> float:
    """How long an update call waits for its stage before answering with the stage reached.
    A caller whose deadline comes first gets DEADLINE_EXCEEDED from it, as from the reference."""
    remaining = context.time_remaining()
    if remaining is None or remaining > UPDATE_WAIT_SECONDS + 1.0:
        return UPDATE_WAIT_SECONDS
    return remaining + 1.0


class WorkflowService:
    def __init__(
        self,
        namespaces: Namespaces,
        workflows: Workflows,
        reader: HistoryReader,
        queries: Queries,
        updates: Updates,
        persistence_store: str,
    ) -> None:
        """`persistence_store`: the kind of database, as GetClusterInfo reports it."""
        self.namespaces = namespaces
        self.workflows = workflows
        self.reader = reader
        self.queries = queries
        self.updates = updates
        self.persistence_store = persistence_store

    # -- cluster and namespaces -------------------------------------------------------------

    async def GetSystemInfo(self, request: GetSystemInfoRequest, context: Context) -> GetSystemInfoResponse:
        return GetSystemInfoResponse(
            server_version=SERVER_VERSION,
            capabilities=GetSystemInfoResponse.Capabilities(
                signal_and_query_header=True,
                internal_error_differentiation=True,
                activity_failure_include_heartbeat=True,
                encoded_failure_attributes=True,
                supports_schedules=True,
                upsert_memo=True,
                sdk_metadata=True,
                count_group_by_execution_status=True,
                eager_workflow_start=True,
            ),
        )

    async def GetClusterInfo(
        self, request: GetClusterInfoRequest, context: Context
    ) -> GetClusterInfoResponse:
        return GetClusterInfoResponse(
            server_version=SERVER_VERSION,
            cluster_id="clepsydra",
            cluster_name=CLUSTER_NAME,
            history_shard_count=1,
            persistence_store=self.persistence_store,
            visibility_store=self.persistence_store,
            supported_clients={"temporal-cli": ">=0.0.0", "temporal-python": ">=0.0.0"},
        )

    async def StartWorkflowExecution(
        self, request: StartWorkflowExecutionRequest, context: Context
    ) -> StartWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.workflows.start(namespace_id, request.namespace, request)

    async def SignalWithStartWorkflowExecution(
        self, request: SignalWithStartWorkflowExecutionRequest, context: Context
    ) -> SignalWithStartWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        started = await self.workflows.signal_with_start(namespace_id, request)
        return SignalWithStartWorkflowExecutionResponse(
            run_id=started.run_id,
            first_execution_run_id=started.first_execution_run_id,
            started=started.started,
        )

    async def SignalWorkflowExecution(
        self, request: SignalWorkflowExecutionRequest, context: Context
    ) -> SignalWorkflowExecutionResponse:
        await self.workflows.signal(await self.namespaces.id_of(request.namespace), request)
        return SignalWorkflowExecutionResponse()

    async def RequestCancelWorkflowExecution(
        self, request: RequestCancelWorkflowExecutionRequest, context: Context
    ) -> RequestCancelWorkflowExecutionResponse:
        await self.workflows.request_cancel(await self.namespaces.id_of(request.namespace), request)
        return RequestCancelWorkflowExecutionResponse()

    async def UpdateWorkflowExecutionOptions(
        self, request: UpdateWorkflowExecutionOptionsRequest, context: Context
    ) -> UpdateWorkflowExecutionOptionsResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        options = await self.workflows.update_options(namespace_id, request)
        return UpdateWorkflowExecutionOptionsResponse(workflow_execution_options=options)

    async def TerminateWorkflowExecution(
        self, request: TerminateWorkflowExecutionRequest, context: Context
    ) -> TerminateWorkflowExecutionResponse:
        await self.workflows.terminate(await self.namespaces.id_of(request.namespace), request)
        return TerminateWorkflowExecutionResponse()

    async def ResetWorkflowExecution(
        self, request: ResetWorkflowExecutionRequest, context: Context
    ) -> ResetWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return ResetWorkflowExecutionResponse(run_id=await self.workflows.reset(namespace_id, request))

    async def DescribeWorkflowExecution(
        self, request: DescribeWorkflowExecutionRequest, context: Context
    ) -> DescribeWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.workflows.describe(namespace_id, request.execution)

    async def GetWorkflowExecutionHistory(
        self, request: GetWorkflowExecutionHistoryRequest, context: Context
    ) -> GetWorkflowExecutionHistoryResponse:
        return await self.reader.get(await self.namespaces.id_of(request.namespace), request)

    async def GetWorkflowExecutionHistoryReverse(
        self, request: GetWorkflowExecutionHistoryReverseRequest, context: Context
    ) -> GetWorkflowExecutionHistoryReverseResponse:
        return await self.reader.get_reverse(await self.namespaces.id_of(request.namespace), request)

    # -- queries ----------------------------------------------------------------------------

    async def QueryWorkflow(self, request: QueryWorkflowRequest, context: Context) -> QueryWorkflowResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        # As the reference does, wait past the caller's deadline: its own timeout answers it.
        remaining = context.time_remaining()
        timeout = QUERY_WAIT_SECONDS if remaining is None else remaining + 1.0
        return await self.queries.query(namespace_id, request, timeout)

    async def RespondQueryTaskCompleted(
        self, request: RespondQueryTaskCompletedRequest, context: Context
    ) -> RespondQueryTaskCompletedResponse:
        await self.queries.respond(request)
        return RespondQueryTaskCompletedResponse()

    # -- updates ----------------------------------------------------------------------------

    async def UpdateWorkflowExecution(
        self, request: UpdateWorkflowExecutionRequest, context: Context
    ) -> UpdateWorkflowExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.updates.update(namespace_id, request, _update_wait(context))

    async def PollWorkflowExecutionUpdate(
        self, request: PollWorkflowExecutionUpdateRequest, context: Context
    ) -> PollWorkflowExecutionUpdateResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.updates.poll(namespace_id, request, _update_wait(context))

    async def ExecuteMultiOperation(
        self, request: ExecuteMultiOperationRequest, context: Context
    ) -> ExecuteMultiOperationResponse:
        """Update-with-start: start the workflow (or find it), then update it."""
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await update_with_start.execute(
            self.workflows, self.updates, namespace_id, request.namespace, request, _update_wait(context)
        )
