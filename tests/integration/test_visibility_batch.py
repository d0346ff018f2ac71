"""Batch operations: terminate, cancel, signal or delete the runs a query selects."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.api.batch.v1 import BatchOperationSignal, BatchOperationTermination
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import BatchOperationState, BatchOperationType
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    DescribeBatchOperationResponse,
    ListBatchOperationsRequest,
    StartBatchOperationRequest,
    StopBatchOperationRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from clepsydra.server.app import Server, ServerConfig
from tests.integration.helpers import event_types
from tests.integration.visibility_support import clepsydra_only, eventually, list_ids

State = BatchOperationState


async def finished(client: Client, job_id: str) -> DescribeBatchOperationResponse:
    async def done() -> DescribeBatchOperationResponse:
        described = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
        )
        assert described.state == State.BATCH_OPERATION_STATE_COMPLETED, described
        return described

    return await eventually(done, timeout=30)


async def test_terminate_by_query(client: Client, task_queue: str) -> None:
    for i in range(3):
        await client.start_workflow("Batched", id=f"batch{i}-{task_queue}", task_queue=task_queue)
    query = f"TaskQueue = '{task_queue}'"
    await eventually(lambda: _count_is(client, query, 3))
    job_id = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace="default",
            job_id=job_id,
            visibility_query=query,
            reason="cleaning up",
            termination_operation=BatchOperationTermination(identity="batch-test"),
        )
    )
    described = await finished(client, job_id)
    assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW
    assert (described.total_operation_count, described.complete_operation_count) == (3, 3)
    assert (described.reason, described.query, described.identity) == ("cleaning up", query, "batch-test")
    assert described.HasField("start_time") and described.HasField("close_time")
    for i in range(3):
        handle = client.get_workflow_handle(f"batch{i}-{task_queue}")
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    listed = await client.workflow_service.list_batch_operations(
        ListBatchOperationsRequest(namespace="default")
    )
    assert job_id in [info.job_id for info in listed.operation_info]


async def test_signal_listed_executions(client: Client, task_queue: str) -> None:
    handles = [
        await client.start_workflow("Batched", id=f"sig{i}-{task_queue}", task_queue=task_queue)
        for i in range(2)
    ]
    job_id = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace="default",
            job_id=job_id,
            executions=[WorkflowExecution(workflow_id=h.id) for h in handles],
            reason="poke",
            signal_operation=BatchOperationSignal(signal="poke", identity="batch-test"),
        )
    )
    described = await finished(client, job_id)
    assert described.complete_operation_count == 2
    for handle in handles:
        assert "WORKFLOW_EXECUTION_SIGNALED" in await event_types(handle)


@pytest.mark.parametrize(
    ("request_", "status", "message"),
    [
        (
            StartBatchOperationRequest(
                namespace="default", job_id="j", reason="r", visibility_query="WorkflowType = 'x'"
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "must provide required parameters: BatchType,Reason,Namespace, AND one of "
            "(Query OR Executions OR TargetExecutions)",
        ),
        (
            StartBatchOperationRequest(
                namespace="default",
                reason="r",
                visibility_query="WorkflowType = 'x'",
                termination_operation=BatchOperationTermination(),
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "JobId is not set on request.",
        ),
    ],
)
async def test_start_errors(
    client: Client, request_: StartBatchOperationRequest, status: RPCStatusCode, message: str
) -> None:
    with pytest.raises(RPCError) as error:
        await client.workflow_service.start_batch_operation(request_)
    assert (error.value.status, error.value.message) == (status, message)


async def test_describe_and_stop_unknown_jobs(client: Client) -> None:
    for call in (
        client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace="default", job_id="nope")
        ),
        client.workflow_service.stop_batch_operation(
            StopBatchOperationRequest(namespace="default", job_id="nope", reason="r")
        ),
    ):
        with pytest.raises(RPCError) as error:
            await call
        assert (error.value.status, error.value.message) == (
            RPCStatusCode.NOT_FOUND,
            "workflow not found for ID: nope",
        )


@clepsydra_only
async def test_bad_query_is_rejected_up_front(client: Client) -> None:
    # The reference accepts the job and fails it later; Clepsydra says why at once.
    with pytest.raises(RPCError) as error:
        await client.workflow_service.start_batch_operation(
            StartBatchOperationRequest(
                namespace="default",
                job_id=str(uuid.uuid4()),
                reason="r",
                visibility_query="Bogus = 1",
                termination_operation=BatchOperationTermination(),
            )
        )
    assert (error.value.status, error.value.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "invalid query: invalid search attribute: Bogus",
    )


@clepsydra_only
async def test_a_job_resumes_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "batch.db"
    server = Server(ServerConfig(port=0, db_filename=str(db)))
    await server.start()
    client = await Client.connect(server.address)
    for i in range(250):
        await client.start_workflow("Many", id=f"many-{i}", task_queue="many")
    job_id = "resumable"
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace="default",
            job_id=job_id,
            visibility_query="TaskQueue = 'many'",
            reason="r",
            termination_operation=BatchOperationTermination(),
        )
    )
    await server.stop()  # most likely in the middle of the job

    server = Server(ServerConfig(port=0, db_filename=str(db)))
    await server.start()
    try:
        client = await Client.connect(server.address)
        described = await finished(client, job_id)
        assert described.total_operation_count == 250
        assert described.complete_operation_count + described.failure_operation_count >= 250
        assert await list_ids(client, "TaskQueue = 'many' AND ExecutionStatus = 'Running'") == []
    finally:
        await server.stop()


async def _count_is(client: Client, query: str, expected: int) -> None:
    assert (await client.count_workflows(query)).count == expected
