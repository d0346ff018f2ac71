"""Many timers started in one workflow task: zero-length ones, wait_condition(timeout=0),
timers with summaries, all in one batch of commands, and the workflow still completes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type


@workflow.defn
class ManyTimersWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        sleeps = [
            workflow.sleep(timedelta(milliseconds=(i % 5) * 50), summary=f"timer {i}") for i in range(count)
        ]
        sleeps.append(workflow.sleep(0, summary="zero"))
        sleeps.append(workflow.sleep(0))
        await asyncio.gather(*sleeps)
        timed_out = 0
        for condition in (lambda: False, lambda: True):
            try:
                await workflow.wait_condition(condition, timeout=0, timeout_summary="at once")
            except TimeoutError:
                timed_out += 1
        return count + timed_out


async def test_many_timers_in_one_task_including_zero_length_ones_complete(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ManyTimersWorkflow]):
        handle = await client.start_workflow(
            ManyTimersWorkflow.run,
            50,
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        assert await handle.result() == 52  # both wait_condition(timeout=0) time out
    started = await events_of_type(handle, "TIMER_STARTED")
    fired = await events_of_type(handle, "TIMER_FIRED")
    # wait_condition(timeout=0) starts no timer: asyncio.wait_for times out at once.
    assert len(started) == len(fired) == 52
    zero = [
        e
        for e in started
        if e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(0)
    ]
    assert [e.timer_started_event_attributes.timer_id for e in zero][-2:] == ["51", "52"]
