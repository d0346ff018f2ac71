"""Temporal's per-execution limits: oversized payloads are refused, not stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

BIG = "x" * (3 * 1024 * 1024)


@activity.defn
async def huge_result() -> str:
    return BIG


@workflow.defn
class WantsHugeResult:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            huge_result,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, text: str) -> int:
        return len(text)


async def test_an_oversized_start_input_is_refused(client: Client, task_queue: str, workflow_id: str) -> None:
    with pytest.raises(RPCError) as error:
        await client.start_workflow(Echo.run, BIG, id=workflow_id, task_queue=task_queue)
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "size" in error.value.message.lower()
    # Nothing was started.
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(workflow_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_an_oversized_signal_is_refused(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await client.start_workflow(Echo.run, "small", id=workflow_id, task_queue=task_queue)
    with pytest.raises(RPCError) as error:
        await handle.signal("anything", BIG)
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    await handle.terminate()


async def test_an_oversized_activity_result_fails_the_activity(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[WantsHugeResult], activities=[huge_result]):
        handle = await client.start_workflow(WantsHugeResult.run, id=workflow_id, task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as error:
            await handle.result()
    cause = error.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert "exceed" in cause.cause.message
