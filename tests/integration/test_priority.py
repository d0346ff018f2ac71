"""Task priority: tasks waiting on a queue go to workers highest priority (lowest key) first."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.worker import Worker

from tests.server_process import use_reference

KEYS = (5, 3, 1, 4, 2, 5, 1)
ran: list[int] = []


@activity.defn
async def process(priority_key: int) -> None:
    ran.append(priority_key)


@workflow.defn
class Batch:
    @workflow.run
    async def run(self, activity_queue: str) -> None:
        await asyncio.gather(
            *(
                workflow.start_activity(
                    process,
                    key,
                    task_queue=activity_queue,
                    start_to_close_timeout=timedelta(seconds=10),
                    priority=Priority(priority_key=key),
                )
                for key in KEYS
            )
        )


# The reference orders only the tasks its matcher has loaded from the database, so the order
# it hands them out in varies from run to run; Clepsydra's backlog is in memory, and ordered.
@pytest.mark.skipif(use_reference(), reason="the reference's order is approximate")
async def test_waiting_tasks_are_handed_out_by_priority(client: Client, task_queue: str) -> None:
    activity_queue = f"{task_queue}-activities"
    async with Worker(client, task_queue=task_queue, workflows=[Batch]):
        handle = await client.start_workflow(Batch.run, activity_queue, id=task_queue, task_queue=task_queue)
        async with asyncio.timeout(20):  # all seven scheduled, and waiting: no worker polls their queue yet
            while (
                sum(
                    1
                    for e in (await handle.fetch_history()).events
                    if e.HasField("activity_task_scheduled_event_attributes")
                )
                < 7
            ):
                await asyncio.sleep(0.1)
        # One activity at a time, so that the queue's order is the order they run in.
        async with Worker(
            client, task_queue=activity_queue, activities=[process], max_concurrent_activities=1
        ):
            await handle.result()
    assert ran == sorted(KEYS)
