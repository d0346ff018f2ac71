"""Eager activity dispatch: a worker that asks to run an activity itself gets it in the
answer to its workflow task completion, already started, without polling for it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    RespondActivityTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@activity.defn
async def double(x: int) -> int:
    return 2 * x


@workflow.defn
class Doubler:
    @workflow.run
    async def run(self, x: int) -> int:
        for _ in range(3):
            x = await workflow.execute_activity(double, x, start_to_close_timeout=timedelta(seconds=10))
        return x


def _schedule(activity_id: str, task_queue: str, eager: bool) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id=activity_id,
            activity_type=ActivityType(name="double"),
            task_queue=TaskQueue(name=task_queue),
            request_eager_execution=eager,
            start_to_close_timeout=timedelta(seconds=30),  # type: ignore[arg-type]
        ),
    )


async def test_requested_activities_come_back_started_with_the_completion(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Idle.run, id=workflow_id, task_queue=task_queue)
    service = client.workflow_service
    poll = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), identity="raw"
        )
    )
    completed = await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace,
            task_token=poll.task_token,
            identity="raw",
            commands=[
                _schedule("eager", task_queue, True),
                _schedule("queued", task_queue, False),
                _schedule("elsewhere", f"{task_queue}-other", True),  # another queue: never eager
            ],
        )
    )
    assert [task.activity_id for task in completed.activity_tasks] == ["eager"]
    eager = completed.activity_tasks[0]
    assert eager.workflow_execution.workflow_id == workflow_id
    assert eager.attempt == 1
    assert eager.HasField("started_time")

    description = await handle.describe()
    pending = {a.activity_id: a for a in description.raw_description.pending_activities}
    assert set(pending) == {"eager", "queued", "elsewhere"}
    assert pending["eager"].HasField("last_started_time")
    assert not pending["queued"].HasField("last_started_time")

    await service.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=eager.task_token)
    )
    types = await event_types(handle)
    assert types[-3:] == ["ACTIVITY_TASK_STARTED", "ACTIVITY_TASK_COMPLETED", "WORKFLOW_TASK_SCHEDULED"]
    await handle.terminate()


async def test_sdk_workers_run_activities_eagerly(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Doubler], activities=[double]):
        handle = await client.start_workflow(Doubler.run, 1, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == 8
    assert (await event_types(handle)).count("ACTIVITY_TASK_STARTED") == 3
