"""Sticky execution: the worker that caches a workflow gets its next tasks, with only new events."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type


@workflow.defn
class Napper:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(milliseconds=100))
        await workflow.sleep(timedelta(milliseconds=100))
        return "rested"


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.value: str | None = None

    @workflow.signal
    def give(self, value: str) -> None:
        self.value = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        assert self.value is not None
        return self.value


async def test_later_workflow_tasks_go_to_the_sticky_queue(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Napper]):
        handle = await client.start_workflow(Napper.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "rested"
    first, *later = await events_of_type(handle, "WORKFLOW_TASK_SCHEDULED")
    assert (
        first.workflow_task_scheduled_event_attributes.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL
    )
    assert later
    for event in later:
        queue = event.workflow_task_scheduled_event_attributes.task_queue
        assert queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY
        assert queue.normal_name == task_queue


async def test_another_worker_takes_over_after_a_worker_shuts_down(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Waiter]):
        handle = await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Waiter.give, "first")  # the run is now cached by this worker
        assert await handle.result() == "first"
        second = await client.start_workflow(Waiter.run, id=f"{workflow_id}-2", task_queue=task_queue)
        async for event in second.fetch_history_events(wait_new_event=True):
            if event.HasField("workflow_task_completed_event_attributes"):
                break
    async with Worker(client, task_queue=task_queue, workflows=[Waiter]):
        await second.signal(Waiter.give, "second")
        assert await second.result() == "second"


async def test_a_task_for_a_worker_that_shut_down_goes_to_the_normal_queue_without_a_timeout(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Waiter]):
        handle = await client.start_workflow(Waiter.run, id=workflow_id, task_queue=task_queue)
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.HasField("workflow_task_completed_event_attributes"):
                break
    await handle.signal(Waiter.give, "later")  # scheduled on the gone worker's sticky queue
    async with Worker(client, task_queue=task_queue, workflows=[Waiter]):
        assert await handle.result() == "later"
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
