"""Durations, times and other values at or past the edge of what makes sense: the server
reads durations as at most 100 years, as the reference does, and refuses the rest with
INVALID_ARGUMENT and the reference's messages; nothing gets INTERNAL."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.command.v1 import (
    Command,
    ScheduleActivityTaskCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import ActivityType, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType, IndexedValueType
from temporalio.api.filter.v1 import StartTimeFilter
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    DescribeNamespaceRequest,
    GetWorkflowExecutionHistoryRequest,
    ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
    PollWorkflowTaskQueueRequest,
    RegisterNamespaceRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.integration.helpers import assert_still_serves

HUNDRED_YEARS = 100 * 365 * 24 * 3600
TEN_THOUSAND_YEARS = Duration(seconds=10_000 * 365 * 24 * 3600)


def _start(namespace: str, task_queue: str, **fields: object) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=f"bounds-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="Bounds"),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
        **fields,  # type: ignore[arg-type]
    )


async def _refused(call: object, message: str | None = None) -> None:
    with pytest.raises(RPCError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT, raised.value.message
    if message is not None:
        assert raised.value.message == message


async def test_a_retention_of_ten_thousand_years_is_read_as_a_hundred(client: Client) -> None:
    name = f"bounds-{uuid.uuid4().hex[:8]}"
    ws = client.workflow_service
    await ws.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=TEN_THOUSAND_YEARS)
    )
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert described.config.workflow_execution_retention_ttl.seconds == HUNDRED_YEARS
    await assert_still_serves(client)


async def test_durations_beyond_the_calendar_in_a_start_and_in_commands(
    client: Client, task_queue: str
) -> None:
    ws = client.workflow_service
    request = _start(
        client.namespace,
        task_queue,
        workflow_run_timeout=Duration(seconds=2**62),
        workflow_task_timeout=TEN_THOUSAND_YEARS,
    )
    started = await ws.start_workflow_execution(request)
    execution = WorkflowExecution(workflow_id=request.workflow_id, run_id=started.run_id)
    try:
        task = await ws.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))
        )
        first = task.history.events[0].workflow_execution_started_event_attributes
        assert first.workflow_run_timeout.seconds == HUNDRED_YEARS
        timer = StartTimerCommandAttributes(timer_id="t", start_to_fire_timeout=TEN_THOUSAND_YEARS)
        activity = ScheduleActivityTaskCommandAttributes(
            activity_id="a",
            activity_type=ActivityType(name="A"),
            task_queue=TaskQueue(name=task_queue),
            schedule_to_close_timeout=TEN_THOUSAND_YEARS,
            start_to_close_timeout=Duration(seconds=2**62),
        )
        commands = [
            Command(command_type=CommandType.COMMAND_TYPE_START_TIMER, start_timer_command_attributes=timer),
            Command(
                command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
                schedule_activity_task_command_attributes=activity,
            ),
        ]
        await ws.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=client.namespace, task_token=task.task_token, commands=commands
            )
        )
        history = await ws.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(namespace=client.namespace, execution=execution)
        )
        by_type = {event.event_type: event for event in history.history.events}
        started_timer = by_type[EventType.EVENT_TYPE_TIMER_STARTED].timer_started_event_attributes
        assert started_timer.start_to_fire_timeout.seconds == HUNDRED_YEARS
        scheduled = by_type[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
        assert (
            scheduled.activity_task_scheduled_event_attributes.schedule_to_close_timeout.seconds
            <= HUNDRED_YEARS
        )
    finally:
        await ws.terminate_workflow_execution(
            TerminateWorkflowExecutionRequest(namespace=client.namespace, workflow_execution=execution)
        )


async def test_a_cron_schedule_that_never_fires_is_refused(client: Client, task_queue: str) -> None:
    await _refused(
        client.workflow_service.start_workflow_execution(
            _start(client.namespace, task_queue, cron_schedule="0 0 30 2 *")
        ),
        "invalid CronSchedule, no time can be found to satisfy the schedule",
    )


@pytest.mark.parametrize("number", [999, -1])
async def test_an_unknown_search_attribute_type_is_refused(client: Client, number: int) -> None:
    await _refused(
        client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={"BoundsAttribute": number},  # type: ignore[dict-item]
            )
        ),
        f"Unknown search attribute type: {number}.",
    )
    assert IndexedValueType.Name(1)  # the numbers that do exist still do


async def test_times_beyond_the_calendar_in_lists(client: Client) -> None:
    ws = client.workflow_service
    year_10000 = "StartTime > '10000-01-01T00:00:00Z'"
    message = "invalid query: invalid expression: unable to parse datetime '10000-01-01T00:00:00Z'"
    await _refused(
        ws.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=client.namespace, query=year_10000)
        ),
        message,
    )
    await _refused(
        ws.count_workflow_executions(
            CountWorkflowExecutionsRequest(namespace=client.namespace, query=year_10000)
        ),
        message,
    )
    await _refused(
        ws.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(
                namespace=client.namespace,
                start_time_filter=StartTimeFilter(earliest_time=Timestamp(seconds=-(2**62))),
            )
        )
    )
    await assert_still_serves(client)
