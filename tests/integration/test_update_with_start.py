"""Update-with-start (ExecuteMultiOperation) against a workflow that runs already, or ran:
conflict and reuse policies, update ids seen before, and the reference's errors."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.enums.v1 import WorkflowIdConflictPolicy as ProtoConflictPolicy
from temporalio.api.errordetails.v1 import (
    MultiOperationExecutionFailure,
    WorkflowExecutionAlreadyStartedFailure,
)
from temporalio.api.failure.v1 import MultiOperationExecutionAborted
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import (
    ExecuteMultiOperationRequest,
    StartWorkflowExecutionRequest,
    UpdateWorkflowExecutionRequest,
)
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import event_types

FAIL = WorkflowIDConflictPolicy.FAIL
USE_EXISTING = WorkflowIDConflictPolicy.USE_EXISTING


@workflow.defn(sandboxed=False)  # the sandbox would import this module again, for nothing
class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.released = False
        self.closed = False

    @workflow.update
    async def add(self, amount: int) -> int:
        await workflow.wait_condition(lambda: self.released)
        self.total += amount
        return self.total

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closed and workflow.all_handlers_finished())
        return self.total


def with_start(
    workflow_id: str,
    task_queue: str,
    conflict: WorkflowIDConflictPolicy = FAIL,
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
) -> WithStartWorkflowOperation[Counter, int]:
    return WithStartWorkflowOperation(
        Counter.run, id=workflow_id, task_queue=task_queue, id_conflict_policy=conflict, id_reuse_policy=reuse
    )


async def add_with_start(
    client: Client, start: WithStartWorkflowOperation[Counter, int], update_id: str
) -> int:
    return await client.execute_update_with_start_workflow(
        Counter.add, 5, id=update_id, start_workflow_operation=start
    )


async def test_use_existing_attaches_the_update_to_the_running_workflow(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Counter.release)
        start = with_start(workflow_id, task_queue, USE_EXISTING)
        assert await add_with_start(client, start, "u1") == 5
        assert (await start.workflow_handle()).result_run_id == handle.result_run_id
        await handle.signal(Counter.close)
        assert await handle.result() == 5


async def test_fail_on_a_running_workflow_raises_already_started(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
    with pytest.raises(WorkflowAlreadyStartedError) as started:
        await add_with_start(client, with_start(workflow_id, task_queue, FAIL), "u1")
    assert started.value.run_id == handle.result_run_id
    # The raw error: one status per operation, the start's and the aborted update's.
    with pytest.raises(RPCError) as raw:
        await client.workflow_service.execute_multi_operation(
            _raw_update_with_start(client, workflow_id, task_queue, "u2")
        )
    # The top-level status takes the failed operation's code.
    assert raw.value.status == RPCStatusCode.ALREADY_EXISTS
    assert raw.value.message == "Update-with-Start could not be executed."
    failure = MultiOperationExecutionFailure()
    assert raw.value.grpc_status.details[0].Unpack(failure)
    start_status, update_status = failure.statuses
    assert start_status.code == RPCStatusCode.ALREADY_EXISTS
    already = WorkflowExecutionAlreadyStartedFailure()
    assert start_status.details[0].Unpack(already) and already.run_id == handle.result_run_id
    assert update_status.code == RPCStatusCode.ABORTED
    assert update_status.message == "Operation was aborted."
    assert update_status.details[0].Is(MultiOperationExecutionAborted.DESCRIPTOR)
    assert start_status.message.startswith("Workflow execution is already running. WorkflowId: ")
    await handle.terminate()


def _raw_update_with_start(
    client: Client, workflow_id: str, task_queue: str, update_id: str
) -> ExecuteMultiOperationRequest:
    start = StartWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name="Counter"),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
        workflow_id_conflict_policy=ProtoConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    )
    update = UpdateWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        request=Request(meta=Meta(update_id=update_id), input=Input(name="add")),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
        ),
    )
    return ExecuteMultiOperationRequest(
        namespace=client.namespace,
        operations=[
            ExecuteMultiOperationRequest.Operation(start_workflow=start),
            ExecuteMultiOperationRequest.Operation(update_workflow=update),
        ],
    )


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("first_execution_run_id", "FirstExecutionRunId is not allowed."),
        ("run_id", "RunId is not allowed."),
        ("workflow_id", "WorkflowId is not consistent with previous operation(s)."),
    ],
)
async def test_the_update_may_not_name_a_run_or_chain(
    client: Client, task_queue: str, workflow_id: str, field: str, message: str
) -> None:
    request = _raw_update_with_start(client, workflow_id, task_queue, "u1")
    execution = request.operations[1].update_workflow.workflow_execution
    if field == "first_execution_run_id":
        request.operations[1].update_workflow.first_execution_run_id = str(uuid.uuid4())
    elif field == "run_id":
        execution.run_id = str(uuid.uuid4())
    else:
        execution.workflow_id = "another"
    with pytest.raises(RPCError) as raw:
        await client.workflow_service.execute_multi_operation(request)
    assert raw.value.status == RPCStatusCode.INVALID_ARGUMENT
    failure = MultiOperationExecutionFailure()
    assert raw.value.grpc_status.details[0].Unpack(failure)
    assert [(s.code, s.message) for s in failure.statuses] == [
        (RPCStatusCode.ABORTED, "Operation was aborted."),
        (RPCStatusCode.INVALID_ARGUMENT, message),
    ]


async def test_an_update_id_admitted_but_not_completed_is_attached_to(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
    # No worker yet: the first update is admitted and waits; the second attaches to it.
    first = asyncio.create_task(handle.execute_update(Counter.add, 5, id="u1"))
    await asyncio.sleep(0.5)
    second = asyncio.create_task(add_with_start(client, with_start(workflow_id, task_queue, FAIL), "u1"))
    await asyncio.sleep(0.5)
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        accepted = await handle.start_update(
            Counter.add, 1, id="u2", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        # Accepted, not completed: attached to as well.
        third = asyncio.create_task(add_with_start(client, with_start(workflow_id, task_queue, FAIL), "u2"))
        await asyncio.sleep(0.5)
        await handle.signal(Counter.release)
        results = {await first, await second, await accepted.result(), await third}
        assert results in ({5, 6}, {1, 6})
        await handle.signal(Counter.close)
        assert await handle.result() == 6
    types = await event_types(handle)
    assert types.count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 2


@pytest.mark.parametrize(
    "reuse",
    [p for p in WorkflowIDReusePolicy if p != WorkflowIDReusePolicy.TERMINATE_IF_RUNNING],
    ids=lambda p: p.name,
)
async def test_a_completed_update_id_returns_its_outcome_also_after_the_workflow_closed(
    client: Client, task_queue: str, workflow_id: str, reuse: WorkflowIDReusePolicy
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Counter.release)
        assert await handle.execute_update(Counter.add, 5, id="u1") == 5
        # Running, FAIL: the known update id wins over the conflict.
        assert await add_with_start(client, with_start(workflow_id, task_queue, FAIL, reuse), "u1") == 5
        await handle.signal(Counter.close)
        assert await handle.result() == 5
        # Closed: the outcome is kept with the run, whatever the reuse policy.
        start = with_start(workflow_id, task_queue, FAIL, reuse)
        assert await add_with_start(client, start, "u1") == 5
        assert (await start.workflow_handle()).result_run_id == handle.result_run_id
    assert (await event_types(handle)).count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 1


@pytest.mark.parametrize(
    "reuse",
    [
        WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        WorkflowIDReusePolicy.REJECT_DUPLICATE,
    ],
    ids=lambda p: p.name,
)
async def test_a_new_update_on_a_closed_workflow_follows_the_reuse_policy(
    client: Client, task_queue: str, workflow_id: str, reuse: WorkflowIDReusePolicy
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Counter.close)
        assert await handle.result() == 0
        start = with_start(workflow_id, task_queue, FAIL, reuse)
        if reuse != WorkflowIDReusePolicy.ALLOW_DUPLICATE:
            with pytest.raises(WorkflowAlreadyStartedError):
                await add_with_start(client, start, "u1")
            # The start's own status says why.
            request = _raw_update_with_start(client, workflow_id, task_queue, "u2")
            request.operations[0].start_workflow.workflow_id_reuse_policy = reuse.value  # type: ignore[assignment]
            with pytest.raises(RPCError) as raw:
                await client.workflow_service.execute_multi_operation(request)
            failure = MultiOperationExecutionFailure()
            assert raw.value.grpc_status.details[0].Unpack(failure)
            ids = f"WorkflowId: {workflow_id}, RunId: {handle.result_run_id}."
            assert failure.statuses[0].message == (
                f"Workflow execution already finished. {ids} Workflow Id reuse policy: reject duplicate "
                "workflow Id."
                if reuse == WorkflowIDReusePolicy.REJECT_DUPLICATE
                else f"Workflow execution already finished successfully. {ids} Workflow Id reuse policy: "
                "allow duplicate workflow Id if last run failed."
            )
            return
        update = asyncio.create_task(add_with_start(client, start, "u1"))
        new_handle = await start.workflow_handle()
        assert new_handle.result_run_id != handle.result_run_id
        await new_handle.signal(Counter.release)
        assert await update == 5
        await new_handle.signal(Counter.close)
        assert await new_handle.result() == 5
