"""Activities completed (or failed, or heartbeated) from outside the worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history

ACTIVITY_ID = "external-work"


@dataclass
class Pending:
    """What the activity hands the test: its task token, once it has started."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    task_token: bytes = b""
    activity_id: str = ""


# The activities run in the test's own event loop, so they can report to the test directly.
pending: dict[str, Pending] = {}


@activity.defn
async def complete_elsewhere(request: str) -> str:
    info = activity.info()
    slot = pending[info.workflow_id]
    slot.task_token = info.task_token
    slot.activity_id = info.activity_id
    slot.started.set()
    activity.raise_complete_async()


@workflow.defn
class AsyncCompletionWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        return await workflow.execute_activity(
            complete_elsewhere,
            request,
            activity_id=ACTIVITY_ID,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def run_until_pending(
    client: Client, task_queue: str, workflow_id: str
) -> tuple[WorkflowHandle[AsyncCompletionWorkflow, str], Pending]:
    """Start the workflow and wait until its activity has handed over its task token."""
    pending[workflow_id] = Pending()
    handle = await client.start_workflow(
        AsyncCompletionWorkflow.run, "job", id=workflow_id, task_queue=task_queue
    )
    await pending[workflow_id].started.wait()
    return handle, pending[workflow_id]


def worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AsyncCompletionWorkflow],
        activities=[complete_elsewhere],
    )


COMPLETED_HISTORY = [
    "WORKFLOW_EXECUTION_STARTED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "ACTIVITY_TASK_SCHEDULED",
    "ACTIVITY_TASK_STARTED",
    "ACTIVITY_TASK_COMPLETED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_COMPLETED",
]


async def test_complete_by_task_token(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue):
        handle, slot = await run_until_pending(client, task_queue, workflow_id)
        assert slot.task_token
        await client.get_async_activity_handle(task_token=slot.task_token).complete("done by token")
        assert await handle.result() == "done by token"
    assert await event_types(handle) == COMPLETED_HISTORY
    await save_history(handle, "async_complete_by_token")


async def test_complete_by_id(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue):
        handle, slot = await run_until_pending(client, task_queue, workflow_id)
        assert slot.activity_id == ACTIVITY_ID
        await client.get_async_activity_handle(
            workflow_id=workflow_id, run_id=handle.result_run_id, activity_id=ACTIVITY_ID
        ).complete("done by id")
        assert await handle.result() == "done by id"
    assert await event_types(handle) == COMPLETED_HISTORY
    await save_history(handle, "async_complete_by_id")


async def test_fail_by_id(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue):
        handle, _ = await run_until_pending(client, task_queue, workflow_id)
        await client.get_async_activity_handle(
            workflow_id=workflow_id, run_id=None, activity_id=ACTIVITY_ID
        ).fail(ApplicationError("failed from outside", type="External"))
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "failed from outside"
    assert cause.type == "External"
    types = await event_types(handle)
    assert types[4:7] == [
        "ACTIVITY_TASK_SCHEDULED",
        "ACTIVITY_TASK_STARTED",
        "ACTIVITY_TASK_FAILED",
    ]
    assert types[-1] == "WORKFLOW_EXECUTION_FAILED"
    await save_history(handle, "async_fail_by_id")


async def test_heartbeat_by_token(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue):
        handle, slot = await run_until_pending(client, task_queue, workflow_id)
        activity_handle = client.get_async_activity_handle(task_token=slot.task_token)
        await activity_handle.heartbeat("half way")
        # The heartbeat's details are visible on the pending activity.
        desc = await handle.describe()
        (pending_activity,) = desc.raw_description.pending_activities
        assert pending_activity.activity_id == ACTIVITY_ID
        assert pending_activity.activity_type.name == "complete_elsewhere"
        details = await client.data_converter.decode(pending_activity.heartbeat_details.payloads)
        assert details == ["half way"]
        assert pending_activity.HasField("last_heartbeat_time")
        await activity_handle.complete("done after heartbeat")
        assert await handle.result() == "done after heartbeat"
    (completed,) = await events_of_type(handle, "ACTIVITY_TASK_COMPLETED")
    assert completed.activity_task_completed_event_attributes.result.payloads
    await save_history(handle, "async_heartbeat_by_token")
