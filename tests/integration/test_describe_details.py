"""Describe's details beyond the basics: auto reset points (handed on across continue-as-new)
and the extended info, as the reference reports them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type


@activity.defn
async def pause_briefly() -> None:
    await asyncio.sleep(0.2)


@workflow.defn
class Twice:
    @workflow.run
    async def run(self, again: bool) -> None:
        await workflow.execute_activity(pause_briefly, start_to_close_timeout=timedelta(seconds=10))
        if again:
            workflow.continue_as_new(False)


async def test_reset_points_and_extended_info(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Twice], activities=[pause_briefly]):
        handle = await client.start_workflow(Twice.run, True, id=workflow_id, task_queue=task_queue)
        await handle.result()
    first_run_id = handle.first_execution_run_id
    assert first_run_id is not None
    first = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=first_run_id),
        )
    )
    (point,) = first.workflow_execution_info.auto_reset_points.points
    assert point.run_id == first_run_id
    assert point.first_workflow_task_completed_id == 4
    assert point.resettable
    assert point.build_id or point.binary_checksum
    assert point.HasField("create_time")

    extended = first.workflow_extended_info
    assert extended.original_start_time == first.workflow_execution_info.start_time
    assert not extended.HasField("execution_expiration_time")
    assert extended.run_expiration_time.seconds == -62135596800  # none: Go's zero time
    (request_id_info,) = extended.request_id_infos.values()
    assert request_id_info.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert request_id_info.event_id == 1

    # The run that continues it starts with the points of the run before (same build: no new one).
    (started,) = await events_of_type(handle, "WORKFLOW_EXECUTION_STARTED")
    prev = started.workflow_execution_started_event_attributes.prev_auto_reset_points.points
    assert [p.run_id for p in prev] == [first_run_id]
    second = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    assert [p.run_id for p in second.workflow_execution_info.auto_reset_points.points] == [first_run_id]
