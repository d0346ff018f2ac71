"""The schedule RPCs of temporal.api.workflowservice.v1.WorkflowService."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    CountSchedulesRequest,
    CountSchedulesResponse,
    CreateScheduleRequest,
    CreateScheduleResponse,
    DeleteScheduleRequest,
    DeleteScheduleResponse,
    DescribeScheduleRequest,
    DescribeScheduleResponse,
    ListScheduleMatchingTimesRequest,
    ListScheduleMatchingTimesResponse,
    ListSchedulesRequest,
    ListSchedulesResponse,
    PatchScheduleRequest,
    PatchScheduleResponse,
    UpdateScheduleRequest,
    UpdateScheduleResponse,
)

from clepsydra.services.namespaces import Namespaces
from clepsydra.services.schedules import Schedules

Context = grpc.aio.ServicerContext


class ScheduleService:
    def __init__(self, namespaces: Namespaces, schedules: Schedules) -> None:
        self.namespaces = namespaces
        self.schedules = schedules

    async def CreateSchedule(
        self, request: CreateScheduleRequest, context: Context
    ) -> CreateScheduleResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return CreateScheduleResponse(conflict_token=await self.schedules.create(namespace_id, request))

    async def DescribeSchedule(
        self, request: DescribeScheduleRequest, context: Context
    ) -> DescribeScheduleResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.schedules.describe(namespace_id, request.schedule_id)

    async def UpdateSchedule(
        self, request: UpdateScheduleRequest, context: Context
    ) -> UpdateScheduleResponse:
        await self.schedules.update(await self.namespaces.id_of(request.namespace), request)
        return UpdateScheduleResponse()

    async def PatchSchedule(self, request: PatchScheduleRequest, context: Context) -> PatchScheduleResponse:
        await self.schedules.patch(await self.namespaces.id_of(request.namespace), request)
        return PatchScheduleResponse()

    async def DeleteSchedule(
        self, request: DeleteScheduleRequest, context: Context
    ) -> DeleteScheduleResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.schedules.delete(namespace_id, request.schedule_id, request.identity)
        return DeleteScheduleResponse()

    async def ListSchedules(self, request: ListSchedulesRequest, context: Context) -> ListSchedulesResponse:
        return await self.schedules.list(
            request.namespace, request.query, request.maximum_page_size, request.next_page_token
        )

    async def CountSchedules(
        self, request: CountSchedulesRequest, context: Context
    ) -> CountSchedulesResponse:
        return await self.schedules.count(request.namespace, request.query)

    async def ListScheduleMatchingTimes(
        self, request: ListScheduleMatchingTimesRequest, context: Context
    ) -> ListScheduleMatchingTimesResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return await self.schedules.matching_times(namespace_id, request)
