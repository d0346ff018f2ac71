"""A standalone activity across a SIGKILL: started, paused and retried before the crash, it is
still there after it, runs on the worker that comes later, and its client gets the result."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import ActivityExecutionStatus, Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from tests.server_process import ServerProcess

attempts: list[int] = []


@activity.defn
async def settle_invoice(invoice: str) -> str:
    attempt = activity.info().attempt
    attempts.append(attempt)
    if attempt < 2:
        raise RuntimeError("ledger unavailable")
    return f"{invoice} settled on attempt {attempt}"


async def test_a_standalone_activity_survives_a_crash(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "activities.db", tmp_path / "server.log")
    await server.start()
    task_queue = f"invoices-{uuid.uuid4()}"
    activity_id = f"invoice-{uuid.uuid4()}"
    try:
        client = await Client.connect(server.target)
        # A backoff long enough that the pause below lands in it.
        retry = RetryPolicy(initial_interval=timedelta(seconds=3), backoff_coefficient=1)
        async with Worker(client, task_queue=task_queue, activities=[settle_invoice]):
            handle = await client.start_activity(
                settle_invoice, "INV-7", id=activity_id, task_queue=task_queue,
                start_to_close_timeout=timedelta(seconds=10), retry_policy=retry,
            )  # fmt: skip
            async with asyncio.timeout(20):
                while not attempts:
                    await asyncio.sleep(0.05)
            await handle.pause(reason="ledger maintenance")
        described = await handle.describe()
        assert described.status == ActivityExecutionStatus.RUNNING

        server.kill()
        await server.start()
        client = await Client.connect(server.target)
        handle = client.get_activity_handle(activity_id, run_id=handle.run_id)
        described = await handle.describe()
        assert described.raw_info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
        async with Worker(client, task_queue=task_queue, activities=[settle_invoice]):
            await asyncio.sleep(0.5)
            assert attempts == [1], "paused before the crash, paused after it"
            await handle.unpause()
            assert await handle.result() == "INV-7 settled on attempt 2"
    finally:
        server.stop()
