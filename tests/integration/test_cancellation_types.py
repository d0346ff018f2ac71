"""A cancelled workflow and its activities, in each activity cancellation type."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.workflow import ActivityCancellationType

from tests.integration.helpers import event_types, wait_for_event


@activity.defn
async def heartbeat_until_cancelled() -> str:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        await asyncio.sleep(0.3)  # cleaning up takes a moment
        raise


@workflow.defn
class CancellableWork:
    @workflow.run
    async def run(self, cancellation_type: ActivityCancellationType) -> str:
        try:
            await workflow.execute_activity(
                heartbeat_until_cancelled,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=2),
                cancellation_type=cancellation_type,
            )
        except Exception as error:
            return f"activity ended: {type(error.__cause__ or error).__name__}"
        return "activity finished"


@pytest.mark.parametrize(
    ("cancellation_type", "activity_reports_cancel"),
    [
        (ActivityCancellationType.TRY_CANCEL, False),
        (ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, True),
        (ActivityCancellationType.ABANDON, False),
    ],
)
async def test_cancelling_a_workflow_cancels_its_activity(
    client: Client,
    task_queue: str,
    workflow_id: str,
    cancellation_type: ActivityCancellationType,
    activity_reports_cancel: bool,
) -> None:
    async with Worker(
        client, task_queue=task_queue, workflows=[CancellableWork], activities=[heartbeat_until_cancelled]
    ):
        handle = await client.start_workflow(
            CancellableWork.run, cancellation_type, id=workflow_id, task_queue=task_queue
        )
        await wait_for_event(handle, "WORKFLOW_TASK_COMPLETED")
        await asyncio.sleep(0.3)  # let the activity start heartbeating
        await handle.cancel()
        assert (await handle.result()).startswith("activity ended")
    types = await event_types(handle)
    assert "WORKFLOW_EXECUTION_CANCEL_REQUESTED" in types
    if cancellation_type == ActivityCancellationType.ABANDON:
        assert "ACTIVITY_TASK_CANCEL_REQUESTED" not in types
    else:
        assert "ACTIVITY_TASK_CANCEL_REQUESTED" in types
    if activity_reports_cancel:
        # The workflow waited for the activity to confirm: its cancellation is in history first.
        assert types.index("ACTIVITY_TASK_CANCELED") < types.index("WORKFLOW_EXECUTION_COMPLETED")
