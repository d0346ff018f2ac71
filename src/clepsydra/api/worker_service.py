"""The worker-facing RPCs of temporal.api.workflowservice.v1.WorkflowService: polls for
workflow and activity tasks, and the reports on them."""

from __future__ import annotations

import functools
from typing import Any

import grpc
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payloads
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollActivityTaskQueueResponse,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    RecordActivityTaskHeartbeatByIdRequest,
    RecordActivityTaskHeartbeatByIdResponse,
    RecordActivityTaskHeartbeatRequest,
    RecordActivityTaskHeartbeatResponse,
    ResetStickyTaskQueueRequest,
    ResetStickyTaskQueueResponse,
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
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
    RespondWorkflowTaskFailedResponse,
    ShutdownWorkerRequest,
    ShutdownWorkerResponse,
)

from clepsydra.cluster.peers import Peers, forwarded
from clepsydra.matching.rate_limits import RateLimits
from clepsydra.services.completions import ActivityById, Completions
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.polls import Polls
from clepsydra.services.workers import WorkerRegistry

Context = grpc.aio.ServicerContext
# Long polls answer empty after this long, as the reference server does.
LONG_POLL_SECONDS = 60.0


def _poll_timeout(context: Context) -> float:
    """Answer a long poll before the caller's own deadline runs out."""
    remaining = context.time_remaining()
    if remaining is None:
        return LONG_POLL_SECONDS
    return max(0.0, min(LONG_POLL_SECONDS, remaining - 1.0))


def _payloads(message: Message, field: str) -> Payloads | None:
    value = getattr(message, field)
    return value if message.HasField(field) else None


class WorkerService:
    def __init__(
        self,
        namespaces: Namespaces,
        polls: Polls,
        completions: Completions,
        workers: WorkerRegistry,
        peers: Peers | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        """`workers`: the registry a worker's last heartbeat goes to as it shuts down. `peers`:
        the other processes on the same database, where polls go to fetch tasks announced
        there; None for a process alone on its database. `limits`: of the queues, which hear
        the rate limits that activity workers ask for."""
        self.limits = limits
        self.namespaces = namespaces
        self.polls = polls
        self.completions = completions
        self.workers = workers
        self.peers = peers

    async def _by_id(self, request: Any) -> ActivityById:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return ActivityById(namespace_id, request.workflow_id, request.run_id, request.activity_id)

    # -- workflow tasks ---------------------------------------------------------------------

    async def PollWorkflowTaskQueue(
        self, request: PollWorkflowTaskQueueRequest, context: Context
    ) -> PollWorkflowTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        timeout, fetch = self._poll_plan(
            context, "PollWorkflowTaskQueue", request, PollWorkflowTaskQueueResponse
        )
        return await self.polls.poll_workflow_task(
            namespace_id, request.task_queue, request.identity, timeout, fetch, request.deployment_options
        )

    async def RespondWorkflowTaskCompleted(
        self, request: RespondWorkflowTaskCompletedRequest, context: Context
    ) -> RespondWorkflowTaskCompletedResponse:
        return await self.completions.complete_workflow_task(request)

    async def RespondWorkflowTaskFailed(
        self, request: RespondWorkflowTaskFailedRequest, context: Context
    ) -> RespondWorkflowTaskFailedResponse:
        await self.completions.fail_workflow_task(request)
        return RespondWorkflowTaskFailedResponse()

    # -- activity tasks ---------------------------------------------------------------------

    async def PollActivityTaskQueue(
        self, request: PollActivityTaskQueueRequest, context: Context
    ) -> PollActivityTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        if self.limits is not None:
            self.limits.activity_poll(namespace_id, request)
        timeout, fetch = self._poll_plan(
            context, "PollActivityTaskQueue", request, PollActivityTaskQueueResponse
        )
        return await self.polls.poll_activity_task(
            namespace_id,
            request.namespace,
            request.task_queue,
            request.identity,
            timeout,
            fetch,
            request.deployment_options,
        )

    def _poll_plan(
        self, context: Context, method: str, request: Message, response_class: type[Message]
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
        token = await self.completions.tokens.task(request)
        answer = await self.completions.heartbeat(token, _payloads(request, "details"))
        return RecordActivityTaskHeartbeatResponse(
            cancel_requested=answer.cancel_requested,
            activity_paused=answer.paused,
            activity_reset=answer.reset,
        )

    async def RecordActivityTaskHeartbeatById(
        self, request: RecordActivityTaskHeartbeatByIdRequest, context: Context
    ) -> RecordActivityTaskHeartbeatByIdResponse:
        answer = await self.completions.heartbeat(await self._by_id(request), _payloads(request, "details"))
        return RecordActivityTaskHeartbeatByIdResponse(
            cancel_requested=answer.cancel_requested,
            activity_paused=answer.paused,
            activity_reset=answer.reset,
        )

    async def RespondActivityTaskCompleted(
        self, request: RespondActivityTaskCompletedRequest, context: Context
    ) -> RespondActivityTaskCompletedResponse:
        token = await self.completions.tokens.task(request)
        await self.completions.complete_activity(token, _payloads(request, "result"), request.identity)
        return RespondActivityTaskCompletedResponse()

    async def RespondActivityTaskCompletedById(
        self, request: RespondActivityTaskCompletedByIdRequest, context: Context
    ) -> RespondActivityTaskCompletedByIdResponse:
        await self.completions.complete_activity(
            await self._by_id(request), _payloads(request, "result"), request.identity
        )
        return RespondActivityTaskCompletedByIdResponse()

    async def RespondActivityTaskFailed(
        self, request: RespondActivityTaskFailedRequest, context: Context
    ) -> RespondActivityTaskFailedResponse:
        token = await self.completions.tokens.task(request)
        await self.completions.fail_activity(
            token, request.failure, request.identity, _payloads(request, "last_heartbeat_details")
        )
        return RespondActivityTaskFailedResponse()

    async def RespondActivityTaskFailedById(
        self, request: RespondActivityTaskFailedByIdRequest, context: Context
    ) -> RespondActivityTaskFailedByIdResponse:
        await self.completions.fail_activity(
            await self._by_id(request),
            request.failure,
            request.identity,
            _payloads(request, "last_heartbeat_details"),
        )
        return RespondActivityTaskFailedByIdResponse()

    async def RespondActivityTaskCanceled(
        self, request: RespondActivityTaskCanceledRequest, context: Context
    ) -> RespondActivityTaskCanceledResponse:
        token = await self.completions.tokens.task(request)
        await self.completions.cancel_activity(token, _payloads(request, "details"), request.identity)
        return RespondActivityTaskCanceledResponse()

    async def RespondActivityTaskCanceledById(
        self, request: RespondActivityTaskCanceledByIdRequest, context: Context
    ) -> RespondActivityTaskCanceledByIdResponse:
        await self.completions.cancel_activity(
            await self._by_id(request), _payloads(request, "details"), request.identity
        )
        return RespondActivityTaskCanceledByIdResponse()

    # -- worker lifecycle -------------------------------------------------------------------

    async def ShutdownWorker(
        self, request: ShutdownWorkerRequest, context: Context
    ) -> ShutdownWorkerResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.polls.release_sticky_queue(namespace_id, request.sticky_task_queue)
        if request.HasField("worker_heartbeat"):
            self.workers.record(namespace_id, [request.worker_heartbeat])
        return ShutdownWorkerResponse()

    async def ResetStickyTaskQueue(
        self, request: ResetStickyTaskQueueRequest, context: Context
    ) -> ResetStickyTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.completions.reset_sticky(namespace_id, request.execution)
        return ResetStickyTaskQueueResponse()
