"""The RPCs of standalone activities, started and awaited by a client with no workflow
(temporal.api.workflowservice.v1.WorkflowService)."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    CountActivityExecutionsRequest,
    CountActivityExecutionsResponse,
    DeleteActivityExecutionRequest,
    DeleteActivityExecutionResponse,
    DescribeActivityExecutionRequest,
    DescribeActivityExecutionResponse,
    ListActivityExecutionsRequest,
    ListActivityExecutionsResponse,
    PollActivityExecutionRequest,
    PollActivityExecutionResponse,
    RequestCancelActivityExecutionRequest,
    RequestCancelActivityExecutionResponse,
    StartActivityExecutionRequest,
    StartActivityExecutionResponse,
    TerminateActivityExecutionRequest,
    TerminateActivityExecutionResponse,
)

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.services.activity_visibility import list_info
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.standalone_activities import StandaloneActivities
from clepsydra.services.visibility import Visibility

Context = grpc.aio.ServicerContext
# A long poll for an outcome answers empty after this long; the client asks again.
LONG_POLL_SECONDS = 20.0


def _long_poll(context: Context) -> float:
    remaining = context.time_remaining()
    return LONG_POLL_SECONDS if remaining is None else max(0.0, min(LONG_POLL_SECONDS, remaining - 1.0))


class StandaloneActivityService:
    def __init__(
        self,
        namespaces: Namespaces,
        activities: StandaloneActivities,
        visibility: Visibility,
        deleter: RunDeleter,
    ) -> None:
        self.namespaces = namespaces
        self.activities = activities
        self.visibility = visibility
        self.deleter = deleter

    async def StartActivityExecution(
        self, request: StartActivityExecutionRequest, context: Context
    ) -> StartActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.activities.start(namespace_id, request.namespace, request)

    async def DescribeActivityExecution(
        self, request: DescribeActivityExecutionRequest, context: Context
    ) -> DescribeActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.activities.describe(namespace_id, request, _long_poll(context))

    async def PollActivityExecution(
        self, request: PollActivityExecutionRequest, context: Context
    ) -> PollActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.activities.poll(
            namespace_id, request.activity_id, request.run_id, _long_poll(context)
        )

    async def ListActivityExecutions(
        self, request: ListActivityExecutionsRequest, context: Context
    ) -> ListActivityExecutionsResponse:
        records, token = await self.visibility.list_activities(
            request.namespace, request.query, request.page_size, request.next_page_token
        )
        return ListActivityExecutionsResponse(
            executions=[list_info(r) for r in records], next_page_token=token
        )

    async def CountActivityExecutions(
        self, request: CountActivityExecutionsRequest, context: Context
    ) -> CountActivityExecutionsResponse:
        counted = await self.visibility.count_activities(request.namespace, request.query)
        response = CountActivityExecutionsResponse(count=counted.count)
        for group in counted.groups:
            response.groups.add(count=group.count, group_values=group.group_values)
        return response

    async def RequestCancelActivityExecution(
        self, request: RequestCancelActivityExecutionRequest, context: Context
    ) -> RequestCancelActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.activities.request_cancel(
            namespace_id, request.activity_id, request.run_id, request.reason
        )
        return RequestCancelActivityExecutionResponse()

    async def TerminateActivityExecution(
        self, request: TerminateActivityExecutionRequest, context: Context
    ) -> TerminateActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.activities.terminate(
            namespace_id, request.activity_id, request.run_id, request.reason, request.identity
        )
        return TerminateActivityExecutionResponse()

    async def DeleteActivityExecution(
        self, request: DeleteActivityExecutionRequest, context: Context
    ) -> DeleteActivityExecutionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        key = await self.activities.resolve(namespace_id, request.activity_id, request.run_id)
        await self.deleter.delete(key)
        return DeleteActivityExecutionResponse()
