"""Workflow features beyond activities and timers that ride on markers and task failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history


@activity.defn
async def double(n: int) -> int:
    return n * 2


@workflow.defn
class LocalActivityWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        first = await workflow.execute_local_activity(double, n, start_to_close_timeout=timedelta(seconds=5))
        return await workflow.execute_local_activity(
            double, first, start_to_close_timeout=timedelta(seconds=5)
        )


@activity.defn
async def slow_local() -> str:
    await asyncio.sleep(3)
    return "slow done"


@workflow.defn
class LongLocalActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_local_activity(slow_local, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class PatchedWorkflow:
    @workflow.run
    async def run(self) -> str:
        if workflow.patched("new-greeting"):
            return "new"
        return "old"


# Fails its first workflow task, as a bug in workflow code would, then recovers once
# the "bug" is fixed (the flag flips after the first failure, like a redeploy).
_bug_fixed = {"value": False}


@workflow.defn(sandboxed=False)
class FlakyWorkflow:
    @workflow.run
    async def run(self) -> str:
        if not _bug_fixed["value"]:
            _bug_fixed["value"] = True
            raise RuntimeError("bug in workflow code")
        return "recovered"


@workflow.defn
class MemoWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.upsert_memo({"stage": "done", "obsolete": None})


async def test_local_activities_record_markers(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[LocalActivityWorkflow], activities=[double]):
        handle = await client.start_workflow(
            LocalActivityWorkflow.run, 5, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == 20
    markers = await events_of_type(handle, "MARKER_RECORDED")
    assert len(markers) == 2
    assert {m.marker_recorded_event_attributes.marker_name for m in markers} == {"core_local_activity"}
    await save_history(handle, "local_activities")


async def test_a_local_activity_may_outlast_the_workflow_task_timeout(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    # The worker keeps its workflow task alive by completing it with a request for a new one.
    async with Worker(
        client, task_queue=task_queue, workflows=[LongLocalActivityWorkflow], activities=[slow_local]
    ):
        handle = await client.start_workflow(
            LongLocalActivityWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            task_timeout=timedelta(seconds=2),
        )
        assert await handle.result() == "slow done"
    assert "WORKFLOW_TASK_TIMED_OUT" not in await event_types(handle)


async def test_patched_code_takes_the_new_branch(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[PatchedWorkflow]):
        handle = await client.start_workflow(PatchedWorkflow.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "new"
    (marker,) = await events_of_type(handle, "MARKER_RECORDED")
    assert marker.marker_recorded_event_attributes.marker_name == "core_patch"


async def test_a_failing_workflow_task_is_retried_until_the_code_works(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    _bug_fixed["value"] = False
    async with Worker(client, task_queue=task_queue, workflows=[FlakyWorkflow]):
        handle = await client.start_workflow(FlakyWorkflow.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "recovered"
    types = await event_types(handle)
    assert types[:4] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_FAILED",
    ]
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    (failed,) = await events_of_type(handle, "WORKFLOW_TASK_FAILED")
    assert "bug in workflow code" in failed.workflow_task_failed_event_attributes.failure.message
    await save_history(handle, "workflow_task_failure")


async def test_memo_upserts_show_in_describe(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[MemoWorkflow]):
        handle = await client.start_workflow(
            MemoWorkflow.run, id=workflow_id, task_queue=task_queue, memo={"owner": "ops", "obsolete": 1}
        )
        await handle.result()
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert await description.memo() == {"owner": "ops", "stage": "done"}
    assert "WORKFLOW_PROPERTIES_MODIFIED" in await event_types(handle)
