"""Workflow id reuse policies (for closed runs) and conflict policies (for running ones)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.worker import Worker


@workflow.defn
class Outcome:
    @workflow.run
    async def run(self, fail: bool) -> str:
        if fail:
            raise ApplicationError("failed on purpose", non_retryable=True)
        return "ok"


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def finished(client: Client, workflow_id: str, task_queue: str, fail: bool) -> None:
    handle = await client.start_workflow(Outcome.run, fail, id=workflow_id, task_queue=task_queue)
    try:
        await handle.result()
    except Exception:
        assert fail


async def test_reject_duplicate_refuses_a_closed_id(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        await finished(client, workflow_id, task_queue, fail=False)
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(
                Outcome.run,
                False,
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )


@pytest.mark.parametrize(("fail", "allowed"), [(True, True), (False, False)])
async def test_allow_duplicate_failed_only(
    client: Client, task_queue: str, workflow_id: str, fail: bool, allowed: bool
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        await finished(client, workflow_id, task_queue, fail=fail)
        start = client.start_workflow(
            Outcome.run,
            False,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
        if allowed:
            assert await (await start).result() == "ok"
        else:
            with pytest.raises(WorkflowAlreadyStartedError):
                await start


async def test_use_existing_returns_the_running_run(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    first = await client.start_workflow(Forever.run, id=workflow_id, task_queue=task_queue)
    second = await client.start_workflow(
        Forever.run,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    assert second.result_run_id == first.result_run_id
    await first.terminate()


async def test_terminate_existing_replaces_the_running_run(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    first = await client.start_workflow(Forever.run, id=workflow_id, task_queue=task_queue)
    second = await client.start_workflow(
        Forever.run,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    assert second.result_run_id != first.result_run_id
    first_run = client.get_workflow_handle(workflow_id, run_id=first.result_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await second.describe()).status == WorkflowExecutionStatus.RUNNING
    await second.terminate()
