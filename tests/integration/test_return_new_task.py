"""A worker completing a workflow task may ask for the next one in the answer: if events
arrived while it worked (a signal, say), the completion makes a new task at once, and it
comes back started, with only the events the worker has not seen."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types


@workflow.defn
class Collect:
    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) == 3)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)


async def test_the_next_task_comes_back_with_the_completion_when_events_arrived_meanwhile(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Collect.run, id=workflow_id, task_queue=task_queue)
    service = client.workflow_service
    poll = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), identity="raw"
        )
    )
    await handle.signal(Collect.add, "while working")  # buffered: a task is running
    sticky = StickyExecutionAttributes(
        worker_task_queue=TaskQueue(name=f"{task_queue}-sticky", kind=2),
        schedule_to_start_timeout=timedelta(seconds=5),  # type: ignore[arg-type]
    )
    completed = await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace,
            task_token=poll.task_token,
            identity="raw",
            sticky_attributes=sticky,
            return_new_workflow_task=True,
        )
    )
    new_task = completed.workflow_task
    assert new_task.task_token
    assert new_task.previous_started_event_id == poll.started_event_id
    assert new_task.history.events[0].event_id == poll.started_event_id + 1
    types = await event_types(handle)
    assert types[-4:] == [
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
    ]
    await handle.terminate()


async def test_sdk_workers_take_the_next_task_from_the_completion(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Collect]):
        handle = await client.start_workflow(Collect.run, id=workflow_id, task_queue=task_queue)
        for item in ("a", "b", "c"):
            await handle.signal(Collect.add, item)
        assert await handle.result() == ["a", "b", "c"]
