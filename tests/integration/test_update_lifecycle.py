"""Updates across the life of their workflow: it closes or continues as new while they are
in flight, a caller gives up early, a chain is named that is not the workflow's."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    RPCError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import event_types


@workflow.defn(sandboxed=False)  # sleeps in a workflow task, which the sandbox forbids
class Ledger:
    def __init__(self) -> None:
        self.entries: list[str] = []
        self.closing = False
        self.continuing = False

    @workflow.update
    async def record(self, entry: str) -> str:
        self.entries.append(entry)
        return f"{entry} in run {workflow.info().continued_run_id is not None}"

    @workflow.update
    async def hang(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def close(self) -> None:
        self.closing = True

    @workflow.signal
    def continue_slowly(self) -> None:
        # Keeps the workflow task that continues as new busy, so that an update sent now is
        # admitted while it runs and never reaches this run.
        time.sleep(1.5)
        self.continuing = True

    @workflow.run
    async def run(self, continued: bool) -> list[str]:
        await workflow.wait_condition(lambda: self.closing or (self.continuing and not continued))
        if self.continuing and not continued:
            workflow.continue_as_new(True)
        return self.entries


async def test_an_accepted_update_fails_when_its_workflow_closes(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Ledger]):
        handle = await client.start_workflow(Ledger.run, False, id=workflow_id, task_queue=task_queue)
        hanging = await handle.start_update(Ledger.hang, id="h", wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        await handle.signal(Ledger.close)
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await hanging.result()
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "AcceptedUpdateCompletedWorkflow"
        assert (
            cause.message
            == "Workflow Update failed because the Workflow completed before the Update completed."
        )
        assert await handle.result() == []


async def test_an_update_naming_another_chain_is_not_found(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow(Ledger.run, False, id=workflow_id, task_queue=task_queue)
    other_chain = client.get_workflow_handle(workflow_id, first_execution_run_id=str(uuid.uuid4()))
    with pytest.raises(RPCError) as error:
        await other_chain.execute_update(Ledger.record, "x")
    assert error.value.status == RPCStatusCode.NOT_FOUND
    assert error.value.message == "workflow execution not found"
    await handle.terminate()


@pytest.mark.parametrize("stage", [WorkflowUpdateStage.ADMITTED, WorkflowUpdateStage.ACCEPTED])
async def test_a_short_deadline_times_the_caller_out_and_the_update_id_answers_later(
    client: Client, task_queue: str, workflow_id: str, stage: WorkflowUpdateStage
) -> None:
    handle = await client.start_workflow(Ledger.run, False, id=workflow_id, task_queue=task_queue)
    if stage == WorkflowUpdateStage.ADMITTED:  # no worker: the update is admitted and waits
        with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
            await handle.execute_update(Ledger.record, "a", id="u1", rpc_timeout=timedelta(seconds=1))
        async with Worker(client, task_queue=task_queue, workflows=[Ledger]):
            assert await handle.execute_update(Ledger.record, "a", id="u1") == "a in run False"
            await handle.signal(Ledger.close)
            assert await handle.result() == ["a"]
    else:  # accepted, and its handler waits for ever
        async with Worker(client, task_queue=task_queue, workflows=[Ledger]):
            await handle.start_update(Ledger.hang, id="u1", wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
                await handle.execute_update(Ledger.hang, id="u1", rpc_timeout=timedelta(seconds=1))
            assert await handle.execute_update(Ledger.record, "b", id="u2") == "b in run False"
            await handle.signal(Ledger.close)
            assert await handle.result() == ["b"]
    # The outcome of a completed update is kept with the closed run.
    done_id = "u1" if stage == WorkflowUpdateStage.ADMITTED else "u2"
    assert await handle.execute_update(Ledger.record, "ignored", id=done_id) in (
        "a in run False",
        "b in run False",
    )


async def test_updates_admitted_during_a_continue_as_new_reach_the_new_run(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Ledger]):
        handle = await client.start_workflow(Ledger.run, False, id=workflow_id, task_queue=task_queue)
        await handle.signal(Ledger.continue_slowly)
        await asyncio.sleep(0.5)  # the workflow task that continues as new is running
        updates = [asyncio.create_task(handle.execute_update(Ledger.record, f"e{i}")) for i in range(2)]
        assert await asyncio.gather(*updates) == ["e0 in run True", "e1 in run True"]
        await handle.signal(Ledger.close)
        assert sorted(await handle.result()) == ["e0", "e1"]
    first_run = client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)
    assert "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" not in await event_types(first_run)
