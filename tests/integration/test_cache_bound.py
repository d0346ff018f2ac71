"""A cache far smaller than what the open workflows hold: states are dropped and read back
from the store as needed, and every workflow still runs to its end with its whole input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.server_process import ServerProcess, use_reference

MB = 1024 * 1024


@activity.defn
async def measure(data: bytes) -> int:
    return len(data)


@workflow.defn
class CarryWorkflow:
    @workflow.run
    async def run(self, data: bytes) -> int:
        await workflow.sleep(0.2)
        return await workflow.execute_activity(measure, data, start_to_close_timeout=timedelta(seconds=30))


async def test_workflows_larger_than_the_cache_run_to_their_end(tmp_path: Path) -> None:
    extra = () if use_reference() else ("--cache-size-mb", "2")
    server = ServerProcess(tmp_path / "cache.db", tmp_path / "server.log", *extra)
    await server.start()
    try:
        client = await Client.connect(server.target)
        task_queue = f"cache-{uuid.uuid4()}"
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[CarryWorkflow],
            activities=[measure],
            max_cached_workflows=0,  # every task replays: the server sends whole histories
        ):
            handles = [
                await client.start_workflow(
                    CarryWorkflow.run, bytes([n]) * MB, id=f"carry-{n}-{uuid.uuid4()}", task_queue=task_queue
                )
                for n in range(8)
            ]
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
        assert results == [MB] * 8
    finally:
        server.stop()
