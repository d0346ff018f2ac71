"""Fields of history events as the reference writes them: what a request or command left unset
stays unset, and events are dated when what they record happened."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type


@activity.defn
async def take_a_second() -> str:
    await asyncio.sleep(1)
    return "done"


@workflow.defn
class Timeouts:
    @workflow.run
    async def run(self, first_run: list[str | None] | None) -> list[str | None]:
        info = workflow.info()
        timeouts = [None if t is None else str(t) for t in (info.execution_timeout, info.run_timeout)]
        if first_run is None:
            await workflow.execute_activity(take_a_second, start_to_close_timeout=timedelta(seconds=10))
            workflow.continue_as_new(timeouts)
        return [*first_run, timeouts[0]]


async def test_unset_fields_stay_unset_and_activity_started_is_dated_at_the_start(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Timeouts], activities=[take_a_second]):
        handle = await client.start_workflow(Timeouts.run, None, id=workflow_id, task_queue=task_queue)
        # The SDK reads the started event: absent timeouts are None, not 0:00:00.
        assert await handle.result() == [None, None, None]
    first_run = client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)
    (started,) = await events_of_type(first_run, "WORKFLOW_EXECUTION_STARTED")
    attributes = started.workflow_execution_started_event_attributes
    for name in ("workflow_execution_timeout", "workflow_run_timeout", "memo", "search_attributes", "header"):
        assert not attributes.HasField(name), name

    (continued,) = await events_of_type(first_run, "WORKFLOW_EXECUTION_CONTINUED_AS_NEW")
    can = continued.workflow_execution_continued_as_new_event_attributes
    for name in ("failure", "last_completion_result", "backoff_start_interval", "memo", "search_attributes"):
        assert not can.HasField(name), name
    # The SDK does not say who initiated it, and the reference writes what the command says.
    assert can.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED

    (activity_started,) = await events_of_type(first_run, "ACTIVITY_TASK_STARTED")
    (activity_completed,) = await events_of_type(first_run, "ACTIVITY_TASK_COMPLETED")
    took = activity_completed.event_time.ToDatetime() - activity_started.event_time.ToDatetime()
    assert took >= timedelta(seconds=0.9)
