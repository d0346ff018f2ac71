"""WorkflowService's Nexus handler RPCs: handler workers poll Nexus requests and answer them."""

from __future__ import annotations

import functools

import grpc
from temporalio.api.enums.v1 import NexusHandlerErrorRetryBehavior as RetryBehavior
from temporalio.api.failure.v1 import Failure, NexusHandlerFailureInfo
from temporalio.api.workflowservice.v1 import (
    PollNexusTaskQueueRequest,
    PollNexusTaskQueueResponse,
    RespondNexusTaskCompletedRequest,
    RespondNexusTaskCompletedResponse,
    RespondNexusTaskFailedRequest,
    RespondNexusTaskFailedResponse,
)

from clepsydra.api.worker_service import _poll_timeout
from clepsydra.cluster.peers import Peers, forwarded
from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.nexus_tasks import Answered, HandlerFailed, NexusTasks

Context = grpc.aio.ServicerContext
MAX_OPERATION_TOKEN_LENGTH = 4096
# Handler error types whose requests may be sent again (as Nexus defines them).
RETRYABLE_TYPES = frozenset(
    {"REQUEST_TIMEOUT", "RESOURCE_EXHAUSTED", "INTERNAL", "UNAVAILABLE", "UPSTREAM_TIMEOUT", "UNKNOWN"}
)


class NexusService:
    def __init__(self, namespaces: Namespaces, tasks: NexusTasks, peers: Peers | None = None) -> None:
        """`peers`: the other processes on a shared database, whose Nexus tasks polls fetch."""
        self.namespaces = namespaces
        self.tasks = tasks
        self.peers = peers

    async def PollNexusTaskQueue(
        self, request: PollNexusTaskQueueRequest, context: Context
    ) -> PollNexusTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        timeout, fetch = _poll_timeout(context), None
        if self.peers is not None and forwarded(context):
            timeout = 0.0  # fetched by another process: answer from what waits here now
        elif self.peers is not None:
            fetch = functools.partial(
                self.peers.fetch, "PollNexusTaskQueue", request, PollNexusTaskQueueResponse
            )
        return await self.tasks.poll(namespace_id, request.task_queue.name, request.identity, timeout, fetch)

    async def RespondNexusTaskCompleted(
        self, request: RespondNexusTaskCompletedRequest, context: Context
    ) -> RespondNexusTaskCompletedResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        started = request.response.start_operation
        if started.HasField("async_success"):
            token = started.async_success.operation_token or started.async_success.operation_id
            if not token:
                raise InvalidArgument("missing opration token in response")  # sic, as the reference
            if len(token) > MAX_OPERATION_TOKEN_LENGTH:
                limit = MAX_OPERATION_TOKEN_LENGTH
                raise InvalidArgument(f"operation token length exceeds allowed limit ({len(token)}/{limit})")
        self.tasks.respond(namespace_id, request.task_token, Answered(request.response))
        return RespondNexusTaskCompletedResponse()

    async def RespondNexusTaskFailed(
        self, request: RespondNexusTaskFailedRequest, context: Context
    ) -> RespondNexusTaskFailedResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        self.tasks.respond(namespace_id, request.task_token, _handler_failed(request))
        return RespondNexusTaskFailedResponse()


def _handler_failed(request: RespondNexusTaskFailedRequest) -> HandlerFailed:
    """The failure as the caller records it: the worker's own (newer SDKs send one), or one made
    of its handler error (older ones), and whether the request may be sent again."""
    if request.HasField("failure"):
        failure = request.failure
    else:
        error = request.error
        failure = Failure(
            nexus_handler_failure_info=NexusHandlerFailureInfo(
                type=error.error_type, retry_behavior=error.retry_behavior
            ),
            cause=Failure(message=error.failure.message, stack_trace=error.failure.stack_trace),
        )
    info = failure.nexus_handler_failure_info
    if info.retry_behavior == RetryBehavior.NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE:
        retryable = True
    elif info.retry_behavior == RetryBehavior.NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE:
        retryable = False
    else:
        retryable = info.type in RETRYABLE_TYPES
    return HandlerFailed(failure, retryable)
