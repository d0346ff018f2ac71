"""Eager workflow start: a client whose own worker polls the workflow's task queue asks
for the first workflow task in the answer to its start, already started, without a poll."""

from __future__ import annotations

from temporalio import workflow
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"Hello, {name}!"


async def test_the_sdk_runs_an_eagerly_started_workflow_on_its_own_worker(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Greet]):
        handle = await client.start_workflow(
            Greet.run, "eager", id=workflow_id, task_queue=task_queue, request_eager_start=True
        )
        assert await handle.result() == "Hello, eager!"
    assert getattr(handle, "__temporal_eagerly_started") is True
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    [started] = await events_of_type(handle, "WORKFLOW_TASK_STARTED")
    assert started.workflow_task_started_event_attributes.identity == client.identity


async def test_the_answer_to_an_eager_start_carries_a_task_the_caller_can_complete(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    service = client.workflow_service
    response = await service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name="Anything"),
            task_queue=TaskQueue(name=task_queue),
            identity="eager-caller",
            request_id="eager-request",
            request_eager_execution=True,
        )
    )
    task = response.eager_workflow_task
    assert task.task_token
    assert task.workflow_execution.run_id == response.run_id
    assert [e.event_type for e in task.history.events] == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]
    assert task.started_event_id == 3
    await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(namespace=client.namespace, task_token=task.task_token)
    )
    handle = client.get_workflow_handle(workflow_id)
    assert (await event_types(handle))[-1] == "WORKFLOW_TASK_COMPLETED"
