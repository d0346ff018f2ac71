"""temporal.api.workflowservice.v1.WorkflowService: one coroutine per RPC, each a thin
translation from the request to the services and back."""

from __future__ import annotations

import functools
from typing import Any

import grpc
from temporalio.api.common.v1 import Payloads
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
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
    PollWorkflowExecutionUpdateRequest,
    PollWorkflowExecutionUpdateResponse,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    QueryWorkflowRequest,
    QueryWorkflowResponse,
    RecordActivityTaskHeartbeatByIdRequest,
    RecordActivityTaskHeartbeatByIdResponse,
    RecordActivityTaskHeartbeatRequest,
    RecordActivityTaskHeartbeatResponse,
    RecordWorkerHeartbeatRequest,
    RecordWorkerHeartbeatResponse,
    RequestCancelWorkflowExecutionRequest,
    RequestCancelWorkflowExecutionResponse,
    ResetStickyTaskQueueRequest,
    ResetStickyTaskQueueResponse,
    ResetWorkflowExecutionRequest,
    ResetWorkflowExecutionResponse,
    RespondActivityTaskCanceledByIdRequest,
    RespondActivityTaskCanceledByIdResponse,
    RespondActivityTaskCanceledRequest,
    RespondActivityTaskCanceledResponse,
    RespondActivityTaskCompletedByIdRequest,
    RespondActivityTaskCompletedByIdResponse,
    RespondActivityTaskCompletedRequest,
    RespondActivityTaskCompletedResponse,
    RespondActivityTaskFailedByIdRequest,
    RespondActivityTaskFailedByIdResponse,
    RespondActivityTaskFailedRequest,
    RespondActivityTaskFailedResponse,
    RespondQueryTaskCompletedRequest,
    RespondQueryTaskCompletedResponse,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
    RespondWorkflowTaskFailedResponse,
    ShutdownWorkerRequest,
    ShutdownWorkerResponse,
    SignalWithStartWorkflowExecutionRequest,
    SignalWithStartWorkflowExecutionResponse,
    SignalWorkflowExecutionRequest,
    SignalWorkflowExecutionResponse,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    TerminateWorkflowExecutionRequest,
    TerminateWorkflowExecutionResponse,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)

from clepsydra.cluster.peers import Peers, forwarded
from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import CLUSTER_NAME, Namespaces
from clepsydra.services.queries import Queries
from clepsydra.services.reads import HistoryReader
from clepsydra.services.updates import Updates
from clepsydra.services.worker_tasks import WorkerTasks
from clepsydra.services.workflows import Workflows

Context = grpc.aio.ServicerContext
# Long polls answer empty after this long, as the reference server does.
LONG_POLL_SECONDS = 60.0
SERVER_VERSION = "1.29.0"
# An update call answers with the stage reached so far after this long; the SDK calls again.
UPDATE_WAIT_SECONDS = 20.0
# A query with no deadline of its own waits this long for a worker to answer.
QUERY_WAIT_SECONDS = 60.0


def _poll_timeout(context: Context) -> float:
    """Answer a long poll before the caller's own deadline runs out."""
    remaining = context.time_remaining()
    if remaining is None:
        return LONG_POLL_SECONDS
    return max(0.0, min(LONG_POLL_SECONDS, remaining - 1.0))


def _update_wait(context: Context) -> float:
    """How long an update call waits for its stage before answering with the stage reached."""
    remaining = context.time_remaining()
    return UPDATE_WAIT_SECONDS if remaining is None else max(0.0, min(UPDATE_WAIT_SECONDS, remaining - 1.0))


def _payloads(message: object, field: str) -> Payloads | None:
    return getattr(message, field) if message.HasField(field) else None  # type: ignore[attr-defined]


class WorkflowService:
    def __init__(
        self,
        namespaces: Namespaces,
        workflows: Workflows,
        worker_tasks: WorkerTasks,
        reader: HistoryReader,
        queries: Queries,
        updates: Updates,
        peers: Peers | None = None,
    ) -> None:
        """`peers`: the other processes on the same database, where polls go to fetch tasks
        announced there; None for a process alone on its database."""
        self.peers = peers
        self.namespaces = namespaces
        self.workflows = workflows
        self.worker_tasks = worker_tasks
        self.reader = reader
        self.queries = queries
        self.updates = updates

    # -- cluster and namespaces -------------------------------------------------------------

    async def GetSystemInfo(self, request: GetSystemInfoRequest, context: Context) -> GetSystemInfoResponse:
        return GetSystemInfoResponse(
            server_version=SERVER_VERSION,
            capabilities=GetSystemInfoResponse.Capabilities(
                signal_and_query_header=True,
                internal_error_differentiation=True,
                activity_failure_include_heartbeat=True,
                encoded_failure_attributes=True,
                upsert_memo=True,
                sdk_metadata=True,
                count_group_by_execution_status=True,
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
            persistence_store="sqlite",
            visibility_store="sqlite",
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

    # -- workflow tasks ---------------------------------------------------------------------

    async def PollWorkflowTaskQueue(
        self, request: PollWorkflowTaskQueueRequest, context: Context
    ) -> PollWorkflowTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        timeout, fetch = self._poll_plan(
            context, "PollWorkflowTaskQueue", request, PollWorkflowTaskQueueResponse
        )
        return await self.worker_tasks.poll_workflow_task(
            namespace_id,
            request.task_queue.name,
            request.identity,
            timeout,
            fetch,
        )

    async def RespondWorkflowTaskCompleted(
        self, request: RespondWorkflowTaskCompletedRequest, context: Context
    ) -> RespondWorkflowTaskCompletedResponse:
        return await self.worker_tasks.complete_workflow_task(request)

    async def RespondWorkflowTaskFailed(
        self, request: RespondWorkflowTaskFailedRequest, context: Context
    ) -> RespondWorkflowTaskFailedResponse:
        await self.worker_tasks.fail_workflow_task(request)
        return RespondWorkflowTaskFailedResponse()

    # -- activity tasks ---------------------------------------------------------------------

    async def PollActivityTaskQueue(
        self, request: PollActivityTaskQueueRequest, context: Context
    ) -> PollActivityTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        timeout, fetch = self._poll_plan(
            context, "PollActivityTaskQueue", request, PollActivityTaskQueueResponse
        )
        return await self.worker_tasks.poll_activity_task(
            namespace_id,
            request.namespace,
            request.task_queue.name,
            request.identity,
            timeout,
            fetch,
        )

    def _poll_plan(
        self, context: Context, method: str, request: Any, response_class: Any
    ) -> tuple[float, Any]:
        """How long a poll waits, and how it fetches tasks announced by other processes. A
        poll forwarded here by another process answers at once, from what waits here."""
        if self.peers is None:
            return _poll_timeout(context), None
        if forwarded(context):
            return 0.0, None
        return _poll_timeout(context), functools.partial(self.peers.fetch, method, request, response_class)

    async def RecordActivityTaskHeartbeat(
        self, request: RecordActivityTaskHeartbeatRequest, context: Context
    ) -> RecordActivityTaskHeartbeatResponse:
        cancel = await self.worker_tasks.heartbeat("", request.task_token, _payloads(request, "details"))
        return RecordActivityTaskHeartbeatResponse(cancel_requested=cancel)

    async def RecordActivityTaskHeartbeatById(
        self, request: RecordActivityTaskHeartbeatByIdRequest, context: Context
    ) -> RecordActivityTaskHeartbeatByIdResponse:
        cancel = await self.worker_tasks.heartbeat(
            await self.namespaces.id_of(request.namespace),
            None,
            _payloads(request, "details"),
            request.workflow_id,
            request.run_id,
            request.activity_id,
        )
        return RecordActivityTaskHeartbeatByIdResponse(cancel_requested=cancel)

    async def RespondActivityTaskCompleted(
        self, request: RespondActivityTaskCompletedRequest, context: Context
    ) -> RespondActivityTaskCompletedResponse:
        await self.worker_tasks.respond_activity(
            "", request.task_token, "completed", _payloads(request, "result"), request.identity
        )
        return RespondActivityTaskCompletedResponse()

    async def RespondActivityTaskCompletedById(
        self, request: RespondActivityTaskCompletedByIdRequest, context: Context
    ) -> RespondActivityTaskCompletedByIdResponse:
        await self.worker_tasks.respond_activity(
            await self.namespaces.id_of(request.namespace),
            None,
            "completed",
            _payloads(request, "result"),
            request.identity,
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            activity_id=request.activity_id,
        )
        return RespondActivityTaskCompletedByIdResponse()

    async def RespondActivityTaskFailed(
        self, request: RespondActivityTaskFailedRequest, context: Context
    ) -> RespondActivityTaskFailedResponse:
        await self.worker_tasks.respond_activity(
            "",
            request.task_token,
            "failed",
            None,
            request.identity,
            failure=request.failure,
            last_heartbeat_details=_payloads(request, "last_heartbeat_details"),
        )
        return RespondActivityTaskFailedResponse()

    async def RespondActivityTaskFailedById(
        self, request: RespondActivityTaskFailedByIdRequest, context: Context
    ) -> RespondActivityTaskFailedByIdResponse:
        await self.worker_tasks.respond_activity(
            await self.namespaces.id_of(request.namespace),
            None,
            "failed",
            None,
            request.identity,
            failure=request.failure,
            last_heartbeat_details=_payloads(request, "last_heartbeat_details"),
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            activity_id=request.activity_id,
        )
        return RespondActivityTaskFailedByIdResponse()

    async def RespondActivityTaskCanceled(
        self, request: RespondActivityTaskCanceledRequest, context: Context
    ) -> RespondActivityTaskCanceledResponse:
        await self.worker_tasks.respond_activity(
            "", request.task_token, "canceled", _payloads(request, "details"), request.identity
        )
        return RespondActivityTaskCanceledResponse()

    async def RespondActivityTaskCanceledById(
        self, request: RespondActivityTaskCanceledByIdRequest, context: Context
    ) -> RespondActivityTaskCanceledByIdResponse:
        await self.worker_tasks.respond_activity(
            await self.namespaces.id_of(request.namespace),
            None,
            "canceled",
            _payloads(request, "details"),
            request.identity,
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            activity_id=request.activity_id,
        )
        return RespondActivityTaskCanceledByIdResponse()

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
        self.queries.respond(request)
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
        """Update-with-start: start the workflow (or find it running), then update it."""
        namespace_id = await self.namespaces.id_of(request.namespace)
        if len(request.operations) != 2 or not (
            request.operations[0].HasField("start_workflow")
            and request.operations[1].HasField("update_workflow")
        ):
            raise InvalidArgument("Operations must be a StartWorkflow followed by an UpdateWorkflow.")
        start = request.operations[0].start_workflow
        update = request.operations[1].update_workflow
        if start.workflow_id != update.workflow_execution.workflow_id:
            raise InvalidArgument("Operations have different workflow IDs.")
        started = await self.workflows.start(namespace_id, request.namespace, start)
        update.workflow_execution.run_id = started.run_id
        updated = await self.updates.update(namespace_id, update, _update_wait(context))
        return ExecuteMultiOperationResponse(
            responses=[
                ExecuteMultiOperationResponse.Response(start_workflow=started),
                ExecuteMultiOperationResponse.Response(update_workflow=updated),
            ]
        )

    # -- worker lifecycle -------------------------------------------------------------------

    async def ShutdownWorker(
        self, request: ShutdownWorkerRequest, context: Context
    ) -> ShutdownWorkerResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.worker_tasks.release_sticky_queue(namespace_id, request.sticky_task_queue)
        return ShutdownWorkerResponse()

    async def ResetStickyTaskQueue(
        self, request: ResetStickyTaskQueueRequest, context: Context
    ) -> ResetStickyTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        execution = request.execution
        key = await self.worker_tasks.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        await self.worker_tasks.reset_sticky(key)
        return ResetStickyTaskQueueResponse()

    async def RecordWorkerHeartbeat(
        self, request: RecordWorkerHeartbeatRequest, context: Context
    ) -> RecordWorkerHeartbeatResponse:
        return RecordWorkerHeartbeatResponse()
