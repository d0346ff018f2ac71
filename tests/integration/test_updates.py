"""Workflow updates: validators, accepted and completed events, update-with-start."""

from __future__ import annotations

import asyncio

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history


@workflow.defn
class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.closed = False

    @workflow.update
    async def deposit(self, amount: int) -> int:
        await asyncio.sleep(0)  # an update handler may await
        self.balance += amount
        return self.balance

    @deposit.validator
    def check_deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("deposits must be positive")

    @workflow.update
    def withdraw(self, amount: int) -> int:
        if amount > self.balance:
            raise ApplicationError("insufficient funds")
        self.balance -= amount
        return self.balance

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closed)
        return self.balance


async def test_updates_change_state_and_return_results(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id=workflow_id, task_queue=task_queue)
        assert await handle.execute_update(Account.deposit, 100) == 100
        assert await handle.execute_update(Account.withdraw, 30) == 70
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(Account.withdraw, 1000)
        assert isinstance(failed.value.cause, ApplicationError)
        await handle.signal(Account.close)
        assert await handle.result() == 70
    types = await event_types(handle)
    assert types.count("WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 3
    assert types.count("WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 3
    await save_history(handle, "updates")


async def test_a_rejected_update_leaves_no_update_events(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id=workflow_id, task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(Account.deposit, -5)
        assert "deposits must be positive" in str(rejected.value.cause)
        await handle.signal(Account.close)
        assert await handle.result() == 0
    types = await event_types(handle)
    assert "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" not in types
    assert "WORKFLOW_EXECUTION_UPDATE_COMPLETED" not in types


async def test_an_update_id_is_applied_once(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id=workflow_id, task_queue=task_queue)
        first = await handle.execute_update(Account.deposit, 10, id="deposit-1")
        again = await handle.execute_update(Account.deposit, 10, id="deposit-1")
        assert first == again == 10
        accepted = await handle.start_update(
            Account.deposit, 5, id="deposit-2", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        assert await accepted.result() == 15
        await handle.signal(Account.close)
        assert await handle.result() == 15
    assert len(await events_of_type(handle, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED")) == 2


async def test_update_with_start(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        for expected in (50, 100):
            start = WithStartWorkflowOperation(
                Account.run,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            assert (
                await client.execute_update_with_start_workflow(
                    Account.deposit, 50, start_workflow_operation=start
                )
                == expected
            )
        handle = await start.workflow_handle()
        await handle.signal(Account.close)
        assert await handle.result() == 100
