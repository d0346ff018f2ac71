"""Schedules on a database shared by several processes: each schedule is run by the owner of
its shard, its starts land wherever their workflows' shards live, and the news of a workflow
closing reaches the schedule across processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from temporalio.worker import Worker

from tests.postgres.test_failover import GUARD, cluster
from tests.postgres.workflows import Greeting, greet, shout


async def test_schedules_run_across_processes_and_hear_their_workflows_close(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (a, b):
        via_a, via_b = await Client.connect(a.target), await Client.connect(b.target)
        task_queue = f"cluster-schedules-{uuid.uuid4()}"
        async with Worker(via_b, task_queue=task_queue, workflows=[Greeting], activities=[greet, shout]):
            handles = [
                await via_a.create_schedule(
                    f"cluster-{i}-{uuid.uuid4()}",
                    Schedule(
                        action=ScheduleActionStartWorkflow(
                            Greeting.run, f"s{i}", id=f"greeting-{i}", task_queue=task_queue
                        ),
                        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=2))]),
                    ),
                )
                for i in range(6)  # spread over the shards, so over both processes
            ]

            async def each_ran_twice_and_saw_it_close() -> bool:
                # Under the default overlap policy (skip), a second start needs the schedule to
                # have heard that the first workflow closed: until then, every time is skipped.
                for handle in handles:
                    if (await via_b.get_schedule_handle(handle.id).describe()).info.num_actions < 2:
                        return False
                return True

            async with asyncio.timeout(GUARD):
                while not await each_ran_twice_and_saw_it_close():
                    await asyncio.sleep(0.5)
            for handle in handles:
                for action in (await handle.describe()).info.recent_actions:
                    result = await via_a.get_workflow_handle(action.action.workflow_id).result()
                    assert result[0].startswith("Hello")
                await handle.delete()
