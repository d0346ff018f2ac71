"""A closed run keeps no timers or queued tasks: whatever the closing change itself scheduled
is moot too, and is never written (so it never fires as a no-op later)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.command.v1 import (
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
)
from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client

from tests.integration.helpers import event_types
from tests.server_process import ServerProcess, use_reference


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@pytest.mark.skipif(use_reference(), reason="reads Clepsydra's own database")
async def test_a_run_closed_with_an_activity_just_scheduled_leaves_no_rows(
    client: Client, server: ServerProcess, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Idle.run, id=workflow_id, task_queue=task_queue)
    service = client.workflow_service
    poll = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))
    )
    schedule = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id="late",
            activity_type=ActivityType(name="anything"),
            task_queue=TaskQueue(name=task_queue),
            schedule_to_close_timeout=timedelta(minutes=5),  # type: ignore[arg-type]
            schedule_to_start_timeout=timedelta(minutes=1),  # type: ignore[arg-type]
        ),
    )
    complete = Command(
        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(),
    )
    await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace, task_token=poll.task_token, commands=[schedule, complete]
        )
    )
    assert (await event_types(handle))[-2:] == ["ACTIVITY_TASK_SCHEDULED", "WORKFLOW_EXECUTION_COMPLETED"]
    if getattr(server, "db_url", None):  # run on PostgreSQL by tests/postgres/on_postgres.py
        pytest.skip("reads the server's SQLite file")
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        for table in ("timers", "queue_tasks"):
            query = f"SELECT COUNT(*) FROM {table} WHERE workflow_id = ?"
            assert db.execute(query, (workflow_id,)).fetchone() == (0,), table
