"""Updates on an idle workflow go out in a speculative workflow task, as on the reference:
nothing is written for it if the update is rejected and nothing else happened; otherwise its
events are written, ordered with the signals that arrived meanwhile as the reference orders them."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Worker

from tests.integration.helpers import event_types, save_history


@workflow.defn(sandboxed=False)  # its validator may sleep, to keep a workflow task in flight
class Gate:
    def __init__(self) -> None:
        self.signals: list[str] = []
        self.done = False

    @workflow.update
    def enter(self, name: str) -> str:
        return f"welcome {name}"

    @enter.validator
    def check(self, name: str) -> None:
        if name.startswith("slow"):
            time.sleep(1)
        if name.endswith("stranger"):
            raise ValueError("strangers stay out")

    @workflow.signal
    def note(self, text: str) -> None:
        self.signals.append(text)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.signals


async def idle(handle: WorkflowHandle) -> list[str]:
    """Wait until the workflow has seen its signal and completed the task: it is idle."""
    while True:
        types = await event_types(handle)
        if "WORKFLOW_EXECUTION_SIGNALED" in types and types[-1] == "WORKFLOW_TASK_COMPLETED":
            return types
        await asyncio.sleep(0.05)


async def events_added_by(client: Client, task_queue: str, workflow_id: str, name: str) -> list[str]:
    """What the scenario added to the history of an idle workflow."""
    async with Worker(client, task_queue=task_queue, workflows=[Gate]):
        handle = await client.start_workflow(Gate.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Gate.note, "first")
        before = await idle(handle)
        if name == "rejected":
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(Gate.enter, "stranger")
        elif name == "accepted":
            assert await handle.execute_update(Gate.enter, "friend") == "welcome friend"
        elif name == "rejected with a signal meanwhile":
            update = asyncio.create_task(handle.execute_update(Gate.enter, "slow stranger"))
            await asyncio.sleep(0.5)  # the speculative task is in flight
            await handle.signal(Gate.note, "meanwhile")
            with pytest.raises(WorkflowUpdateFailedError):
                await update
            await idle(handle)
        after = await event_types(handle)
        await handle.signal(Gate.finish)
        await handle.result()
    await save_history(handle, f"speculative {name}")
    return after[len(before) :]


async def events_added_with_a_signal_before_the_task_started(
    client: Client, task_queue: str, workflow_id: str
) -> list[str]:
    async with Worker(client, task_queue=task_queue, workflows=[Gate]):
        handle = await client.start_workflow(Gate.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Gate.note, "first")
        before = await idle(handle)
    # No worker: the update waits in a speculative task nobody has started, and a signal comes.
    update = asyncio.create_task(handle.execute_update(Gate.enter, "stranger"))
    await asyncio.sleep(0.5)
    await handle.signal(Gate.note, "meanwhile")
    async with Worker(client, task_queue=task_queue, workflows=[Gate]):
        with pytest.raises(WorkflowUpdateFailedError):
            await update
        after = await idle(handle)
        await handle.signal(Gate.finish)
        await handle.result()
    await save_history(handle, "speculative rejected with a signal before it started")
    return after[len(before) :]


TASK = ["WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED"]
UPDATE = ["WORKFLOW_EXECUTION_UPDATE_ACCEPTED", "WORKFLOW_EXECUTION_UPDATE_COMPLETED"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rejected", []),
        ("accepted", [*TASK, *UPDATE]),
        # Written after all (a signal came while it ran), the signal after it, then a task for it.
        ("rejected with a signal meanwhile", [*TASK, "WORKFLOW_EXECUTION_SIGNALED", *TASK]),
    ],
)
async def test_an_update_on_an_idle_workflow(
    client: Client, task_queue: str, workflow_id: str, name: str, expected: list[str]
) -> None:
    assert await events_added_by(client, task_queue, workflow_id, name) == expected


async def test_a_signal_before_the_speculative_task_started_makes_it_real_first(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    added = await events_added_with_a_signal_before_the_task_started(client, task_queue, workflow_id)
    assert added == [
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
    ]
