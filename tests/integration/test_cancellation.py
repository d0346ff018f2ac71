"""Cancelling and terminating running workflows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ActivityError, CancelledError, TerminatedError
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history, wait_for_event

# The activities run in the test's own event loop, so they can report to the test directly.
activity_started: dict[str, asyncio.Event] = {}
activity_saw_cancel: set[str] = set()


@activity.defn
async def heartbeat_until_cancelled() -> str:
    workflow_id = activity.info().workflow_id
    activity_started[workflow_id].set()
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        activity_saw_cancel.add(workflow_id)
        raise


@workflow.defn
class CancellableActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            return await workflow.execute_activity(
                heartbeat_until_cancelled,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=1),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as err:
            # The workflow sees its activity's cancellation and lets it propagate: a cancel
            # requested workflow that raises a cancellation ends as CANCELED.
            workflow.logger.info("activity cancelled: %s", err.cause)
            raise


@workflow.defn
class CancellableTimerWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(60)
        return "slept"


def worker(client: Client, task_queue: str, workflow_class: type) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[workflow_class],
        activities=[heartbeat_until_cancelled],
    )


async def test_cancel_workflow_in_heartbeating_activity(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    activity_started[workflow_id] = asyncio.Event()
    async with worker(client, task_queue, CancellableActivityWorkflow):
        handle = await client.start_workflow(
            CancellableActivityWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        await activity_started[workflow_id].wait()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    assert isinstance(exc_info.value.cause, CancelledError)
    assert workflow_id in activity_saw_cancel
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.CANCELED
    # The activity's started event is only written when the activity closes, so it comes
    # after the cancel request that the workflow sent it.
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "ACTIVITY_TASK_SCHEDULED",
        "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "ACTIVITY_TASK_CANCEL_REQUESTED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_CANCELED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_CANCELED",
    ]
    await save_history(handle, "cancel_workflow_in_activity")


async def test_cancel_workflow_on_timer(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, CancellableTimerWorkflow):
        handle = await client.start_workflow(
            CancellableTimerWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        await wait_for_event(handle, "TIMER_STARTED")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    assert isinstance(exc_info.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_CANCELED",
        "WORKFLOW_EXECUTION_CANCELED",
    ]
    await save_history(handle, "cancel_workflow_on_timer")


async def test_terminate_running_workflow(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, CancellableTimerWorkflow):
        handle = await client.start_workflow(
            CancellableTimerWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        await wait_for_event(handle, "TIMER_STARTED")
        await handle.terminate("enough", reason="test says stop")
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    cause = exc_info.value.cause
    assert isinstance(cause, TerminatedError)
    assert cause.message == "test says stop"
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.TERMINATED
    assert desc.close_time is not None
    types = await event_types(handle)
    assert types == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "WORKFLOW_EXECUTION_TERMINATED",
    ]
    (terminated,) = await events_of_type(handle, "WORKFLOW_EXECUTION_TERMINATED")
    assert terminated.workflow_execution_terminated_event_attributes.reason == "test says stop"
    await save_history(handle, "terminate_workflow")
