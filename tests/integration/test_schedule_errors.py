"""Bad schedule requests get the reference server's status codes and messages."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Schedule,
    ScheduleAction,
    SchedulePatch,
    ScheduleSpec,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import NewWorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CreateScheduleRequest,
    DeleteScheduleRequest,
    DescribeScheduleRequest,
    PatchScheduleRequest,
    UpdateScheduleRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

HOURLY = ScheduleSpec(cron_string=["0 * * * *"])
ACTION = ScheduleAction(
    start_workflow=NewWorkflowExecutionInfo(
        workflow_id="report", workflow_type=WorkflowType(name="Report"), task_queue=TaskQueue(name="reports")
    )
)


def create_request(spec: ScheduleSpec, schedule_id: str | None = None) -> CreateScheduleRequest:
    return CreateScheduleRequest(
        namespace="default",
        schedule_id=str(uuid.uuid4()) if schedule_id is None else schedule_id,
        schedule=Schedule(spec=spec),
        request_id=str(uuid.uuid4()),
    )


async def refused(client: Client, request: CreateScheduleRequest) -> RPCError:
    with pytest.raises(RPCError) as error:
        await client.workflow_service.create_schedule(request)
    return error.value


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ScheduleSpec(cron_string=["61 * * * *"]), "Minute is not in range [0-59]"),
        (ScheduleSpec(cron_string=["hello"]), "CronString does not have 5-7 fields"),
        (
            ScheduleSpec(cron_string=["0 * * * *"], timezone_name="Mars/Olympus"),
            "unknown time zone Mars/Olympus",
        ),
        (ScheduleSpec(interval=[IntervalSpec(interval=Duration(seconds=0))]), "interval is too small"),
        (
            ScheduleSpec(interval=[IntervalSpec(interval=Duration(seconds=60), phase=Duration(seconds=60))]),
            "phase cannot be greater than Interval",
        ),
        (ScheduleSpec(calendar=[CalendarSpec(hour="25")]), "Hour is not in range [0-23]"),
    ],
)
async def test_invalid_specs_are_refused(client: Client, spec: ScheduleSpec, message: str) -> None:
    error = await refused(client, create_request(spec))
    assert error.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.message == f"Invalid schedule spec: {message}"


async def test_a_schedule_id_is_required(client: Client) -> None:
    error = await refused(client, create_request(HOURLY, schedule_id=""))
    assert error.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.message == "Can't load workflow execution.  WorkflowId not set."


async def test_a_second_create_is_refused_but_the_same_create_again_is_not(client: Client) -> None:
    request = create_request(HOURLY)
    first = await client.workflow_service.create_schedule(request)
    assert (await client.workflow_service.create_schedule(request)).conflict_token == first.conflict_token
    request.request_id = str(uuid.uuid4())
    error = await refused(client, request)
    assert error.status == RPCStatusCode.ALREADY_EXISTS
    assert error.message == f'schedule "{request.schedule_id}" is already registered'


async def test_unknown_schedules_are_not_found(client: Client) -> None:
    missing = f"missing-{uuid.uuid4()}"
    service = client.workflow_service
    calls = [
        service.describe_schedule(DescribeScheduleRequest(namespace="default", schedule_id=missing)),
        service.patch_schedule(
            PatchScheduleRequest(namespace="default", schedule_id=missing, patch=SchedulePatch(pause="x"))
        ),
        service.delete_schedule(DeleteScheduleRequest(namespace="default", schedule_id=missing)),
    ]
    for call in calls:
        with pytest.raises(RPCError) as error:
            await call
        assert error.value.status == RPCStatusCode.NOT_FOUND
        assert error.value.message == f"workflow not found for ID: temporal-sys-scheduler:{missing}"


async def test_an_update_with_a_stale_conflict_token_changes_nothing(client: Client) -> None:
    request = create_request(HOURLY)
    await client.workflow_service.create_schedule(request)
    stale = UpdateScheduleRequest(
        namespace="default",
        schedule_id=request.schedule_id,
        schedule=Schedule(spec=ScheduleSpec(cron_string=["5 * * * *"]), action=ACTION),
        conflict_token=(9).to_bytes(8, "big"),
        request_id=str(uuid.uuid4()),
    )
    await client.workflow_service.update_schedule(stale)  # accepted, and dropped, as on the reference
    described = await client.workflow_service.describe_schedule(
        DescribeScheduleRequest(namespace="default", schedule_id=request.schedule_id)
    )
    [calendar] = described.schedule.spec.structured_calendar
    assert [(r.start, r.end) for r in calendar.minute] == [(0, 0)]
    assert described.conflict_token == (1).to_bytes(8, "big")

    stale.schedule.spec.cron_string[:] = ["99 * * * *"]
    with pytest.raises(RPCError) as error:
        await client.workflow_service.update_schedule(stale)
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.value.message == "Invalid schedule spec: Minute is not in range [0-59]"

    stale.schedule.spec.cron_string[:] = ["5 * * * *"]
    stale.schedule.ClearField("action")
    with pytest.raises(RPCError) as error:
        await client.workflow_service.update_schedule(stale)
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.value.message == "Only StartWorkflow action is supported for schedules"
