"""Kill -9 while parents wait on children, runs continue as new, and signals cross workflows.

The actions between workflows are transfer tasks written with the change that asks
for them: after a crash they must still happen, exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from tests.server_process import ServerProcess

GUARD = 90.0  # a guard against hanging, not an assertion on speed


@workflow.defn
class Squarer:
    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.sleep(timedelta(seconds=1))
        return n * n


@workflow.defn
class Family:
    @workflow.run
    async def run(self, n: int) -> int:
        squares = await asyncio.gather(
            *(
                workflow.execute_child_workflow(Squarer.run, n + i, id=f"{workflow.info().workflow_id}-{i}")
                for i in range(3)
            )
        )
        return sum(squares)


@workflow.defn
class Countdown:
    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.sleep(timedelta(milliseconds=200))
        if n > 0:
            workflow.continue_as_new(n - 1)
        return 0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "families.db", tmp_path / "server.log")
    await proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_children_and_continued_runs_survive_a_kill(server: ServerProcess) -> None:
    client = await Client.connect(server.target)
    task_queue = f"families-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Family, Squarer, Countdown]):
        families = [
            await client.start_workflow(Family.run, n, id=f"family-{n}-{uuid.uuid4()}", task_queue=task_queue)
            for n in range(5)
        ]
        chains = [
            await client.start_workflow(
                Countdown.run, 4, id=f"chain-{n}-{uuid.uuid4()}", task_queue=task_queue
            )
            for n in range(5)
        ]
        async with asyncio.timeout(GUARD):
            await asyncio.sleep(0.7)  # children started and sleeping, chains mid-way
            server.kill()
            await server.start()
            results = await asyncio.gather(*(f.result() for f in families))
            assert results == [sum((n + i) ** 2 for i in range(3)) for n in range(5)]
            assert await asyncio.gather(*(c.result() for c in chains)) == [0] * 5
    for family in families:
        for i in range(3):
            child = client.get_workflow_handle(f"{family.id}-{i}")
            assert (await child.describe()).status == WorkflowExecutionStatus.COMPLETED
        history = await family.fetch_history()
        started = [
            e for e in history.events if e.HasField("child_workflow_execution_started_event_attributes")
        ]
        assert len(started) == 3  # each child started exactly once
