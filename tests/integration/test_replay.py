"""Histories written by the server replay in the SDK without non-determinism errors."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from tests.integration.test_cancellation_types import CancellableWork, heartbeat_until_cancelled
from tests.integration.test_children import ParentOfTimesTen, Receiver, Signaller, TimesTen
from tests.integration.test_updates import Account
from tests.integration.test_workflow_features import LocalActivityWorkflow, double

WORKFLOWS = [ParentOfTimesTen, TimesTen, Signaller, Receiver, Account, LocalActivityWorkflow, CancellableWork]


async def test_histories_replay_cleanly(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS, activities=[double, heartbeat_until_cancelled]
    ):
        handles = [
            await client.start_workflow(
                ParentOfTimesTen.run, 3, id=f"{workflow_id}-parent", task_queue=task_queue
            ),
            await client.start_workflow(
                LocalActivityWorkflow.run, 2, id=f"{workflow_id}-la", task_queue=task_queue
            ),
        ]
        receiver = await client.start_workflow(
            Receiver.run, id=f"{workflow_id}-receiver", task_queue=task_queue
        )
        handles.append(receiver)
        handles.append(
            await client.start_workflow(
                Signaller.run, receiver.id, id=f"{workflow_id}-sender", task_queue=task_queue
            )
        )
        account = await client.start_workflow(Account.run, id=f"{workflow_id}-account", task_queue=task_queue)
        await account.execute_update(Account.deposit, 5)
        await account.signal(Account.close)
        handles.append(account)
        for handle in handles:
            await handle.result()
        handles.append(client.get_workflow_handle(f"{workflow_id}-parent-child"))
    replayer = Replayer(workflows=WORKFLOWS)
    for handle in handles:
        result = await replayer.replay_workflow(await handle.fetch_history(), raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{handle.id}: {result.replay_failure}"
