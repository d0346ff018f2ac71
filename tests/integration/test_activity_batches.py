"""Batch operations over the activities of many workflows, and batch reset of workflows,
selected by a list query."""

from __future__ import annotations

import asyncio
import uuid

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.batch.v1 import (
    BatchOperationReset,
    BatchOperationUnpauseActivities,
    BatchOperationUpdateActivityOptions,
)
from temporalio.api.common.v1 import ResetOptions
from temporalio.api.common.v1 import RetryPolicy as RetryPolicyProto
from temporalio.api.enums.v1 import BatchOperationType
from temporalio.api.workflowservice.v1 import PauseActivityRequest, StartBatchOperationRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from tests.integration.test_activity_operations import (
    PAUSED,
    Backend,
    ChargeWorkflow,
    _eventually,
    _execution,
    _has_state,
    _pending,
)
from tests.integration.test_visibility_batch import finished


async def _start_batch(client: Client, query: str, **operation: object) -> str:
    job_id = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace, job_id=job_id, visibility_query=query, reason="ops", **operation
        )
    )
    return job_id


async def _visible(client: Client, query: str, count: int) -> bool:
    return (await client.count_workflows(query)).count == count


async def test_activities_of_many_workflows_are_retuned_and_unpaused_by_query(
    client: Client, task_queue: str
) -> None:
    backend = Backend()
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        handles: list[WorkflowHandle] = [
            await client.start_workflow(
                ChargeWorkflow.run, 1.0, id=f"charge-{i}-{task_queue}", task_queue=task_queue
            )
            for i in range(3)
        ]
        await _eventually(lambda: len(backend.attempts) >= 3, "every activity failed once")
        for handle in handles:
            await client.workflow_service.pause_activity(
                PauseActivityRequest(namespace=client.namespace, execution=_execution(handle), id="charge")
            )
            await _eventually(lambda h=handle: _has_state(h, "charge", PAUSED), "it is paused")
        await _eventually(lambda: _visible(client, query, 3), "the workflows are listed")

        job = await _start_batch(
            client,
            query,
            update_activity_options_operation=BatchOperationUpdateActivityOptions(
                match_all=True,
                activity_options=ActivityOptions(retry_policy=RetryPolicyProto(maximum_attempts=77)),
                update_mask=FieldMask(paths=["retry_policy.maximum_attempts"]),
            ),
        )
        described = await finished(client, job)
        assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_UPDATE_ACTIVITY_OPTIONS
        assert described.complete_operation_count == 3
        for handle in handles:
            pending = await _pending(handle, "charge")
            assert pending.activity_options.retry_policy.maximum_attempts == 77
            assert pending.state == PAUSED

        backend.fixed = True
        job = await _start_batch(
            client,
            query,
            unpause_activities_operation=BatchOperationUnpauseActivities(type="charge", reset_attempts=True),
        )
        described = await finished(client, job)
        assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_UNPAUSE_ACTIVITY
        results = await asyncio.gather(*(h.result() for h in handles))
    assert results == ["charged 5 on attempt 1"] * 3


async def test_workflows_are_reset_by_query(client: Client, task_queue: str) -> None:
    backend = Backend()
    backend.fixed = True
    query = f"TaskQueue = '{task_queue}'"
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        handles = [
            await client.start_workflow(
                ChargeWorkflow.run, 1.0, id=f"reset-{i}-{task_queue}", task_queue=task_queue
            )
            for i in range(2)
        ]
        first_runs = [(await h.describe()).run_id for h in handles]
        for handle in handles:
            await handle.result()
        await _eventually(lambda: _visible(client, query + " AND ExecutionStatus = 'Completed'", 2), "listed")

        job = await _start_batch(
            client,
            query,
            reset_operation=BatchOperationReset(options=ResetOptions(first_workflow_task={})),
        )
        described = await finished(client, job)
        assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_RESET_WORKFLOW
        assert described.complete_operation_count == 2
        for handle, first_run in zip(handles, first_runs, strict=True):
            latest = client.get_workflow_handle(handle.id)
            assert await latest.result() == "charged 5 on attempt 1"
            assert (await latest.describe()).run_id != first_run
    assert len(backend.attempts) == 4, "each workflow ran its activity again after the reset"
