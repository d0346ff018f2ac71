"""Resetting a workflow to an earlier workflow task."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, wait_for_event


@activity.defn
async def increment(x: int) -> int:
    return x + 1


@workflow.defn
class Collector:
    def __init__(self) -> None:
        self.values: list[str] = []

    @workflow.signal
    def add(self, value: str) -> None:
        self.values.append(value)

    @workflow.run
    async def run(self) -> str:
        count = await workflow.execute_activity(increment, 1, start_to_close_timeout=timedelta(seconds=5))
        await workflow.wait_condition(lambda: len(self.values) >= 2)
        return f"{count} {self.values}"


async def test_reset_replays_to_the_point_and_keeps_later_signals(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Collector], activities=[increment]):
        handle = await client.start_workflow(Collector.run, id=workflow_id, task_queue=task_queue)
        await wait_for_event(handle, "ACTIVITY_TASK_COMPLETED")
        await handle.signal(Collector.add, "one")
        reset = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=handle.result_run_id),
                reason="try again",
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
            )
        )
        new_run = client.get_workflow_handle(workflow_id, run_id=reset.run_id)
        await new_run.signal(Collector.add, "two")
        assert await new_run.result() == "2 ['one', 'two']"
    old = client.get_workflow_handle(workflow_id, run_id=handle.result_run_id)
    assert (await old.describe()).status == WorkflowExecutionStatus.TERMINATED
    types = await event_types(new_run)
    assert types[:5] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
        "WORKFLOW_EXECUTION_SIGNALED",
    ]
    (failed,) = await events_of_type(new_run, "WORKFLOW_TASK_FAILED")
    attributes = failed.workflow_task_failed_event_attributes
    assert attributes.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    assert attributes.base_run_id == handle.result_run_id
    assert attributes.new_run_id == reset.run_id
    assert types.count("ACTIVITY_TASK_COMPLETED") == 1


async def _reset(client: Client, handle: WorkflowHandle, event_id: int) -> str:
    reset = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
            reason="again",
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),
        )
    )
    return reset.run_id


@pytest.mark.parametrize("event", ["WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED"])
@pytest.mark.parametrize("which", [0, 1])
async def test_reset_to_any_workflow_task_started_or_completed_event(
    client: Client, task_queue: str, workflow_id: str, event: str, which: int
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Collector], activities=[increment]):
        handle = await client.start_workflow(Collector.run, id=workflow_id, task_queue=task_queue)
        await wait_for_event(handle, "ACTIVITY_TASK_COMPLETED")
        while len(await events_of_type(handle, "WORKFLOW_TASK_COMPLETED")) < 2:
            await asyncio.sleep(0.1)
        event_id = (await events_of_type(handle, event))[which].event_id
        run_id = await _reset(client, handle, event_id)
        new_run = client.get_workflow_handle(workflow_id, run_id=run_id)
        await new_run.signal(Collector.add, "a")
        await new_run.signal(Collector.add, "b")
        assert await new_run.result() == "2 ['a', 'b']"
    types = await event_types(new_run)
    # Up to the chosen event's predecessor as it was, then the reset's failed workflow task,
    # which a task only scheduled there is first recorded started for.
    failed_at = types.index("WORKFLOW_TASK_FAILED")
    assert types[failed_at - 1] == "WORKFLOW_TASK_STARTED"
    assert failed_at == event_id if event == "WORKFLOW_TASK_STARTED" else failed_at == event_id - 1
    (failed,) = await events_of_type(new_run, "WORKFLOW_TASK_FAILED")
    assert failed.workflow_task_failed_event_attributes.identity == "history-service"


BOUNDARY = "this event must be at the boundary"
RANGE = "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: "


@pytest.mark.parametrize(
    ("event_id", "message"),
    [
        (1, "Workflow task finish ID must be > 1 && <= workflow last event ID."),
        (99, "Workflow task finish ID must be > 1 && <= workflow last event ID."),
        (6, RANGE + "6"),
        # Event 4 (the first task completed) shares its batch with the activity it scheduled.
        (5, "StateRebuilder unable to Rebuild mutable state to event ID: 4, version: 0, " + BOUNDARY),
    ],
)
async def test_reset_refuses_other_events_with_the_reference_message(
    client: Client, task_queue: str, workflow_id: str, event_id: int, message: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Collector], activities=[increment]):
        handle = await client.start_workflow(Collector.run, id=workflow_id, task_queue=task_queue)
        await wait_for_event(handle, "ACTIVITY_TASK_COMPLETED")
        with pytest.raises(RPCError) as error:
            await _reset(client, handle, event_id)
        assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert error.value.message == message
        await handle.terminate()
