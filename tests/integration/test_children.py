"""Child workflows and workflows that signal or cancel other workflows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.worker import Worker
from temporalio.workflow import ParentClosePolicy

from tests.integration.helpers import event_types, events_of_type, save_history


@workflow.defn
class TimesTen:
    @workflow.run
    async def run(self, x: int) -> int:
        return x * 10


@workflow.defn
class FailingChild:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("child gave up", non_retryable=True)


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(timedelta(hours=1))
        except asyncio.CancelledError:
            return "cancelled"
        return "slept"


@workflow.defn
class Receiver:
    def __init__(self) -> None:
        self.received: str | None = None

    @workflow.signal
    def ping(self, value: str) -> None:
        self.received = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.received is not None)
        assert self.received is not None
        return self.received


@workflow.defn
class ParentOfTimesTen:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_child_workflow(
            TimesTen.run, x, id=f"{workflow.info().workflow_id}-child"
        )


@workflow.defn
class ParentOfFailingChild:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(FailingChild.run, id=f"{workflow.info().workflow_id}-child")
        except ChildWorkflowError as error:
            assert isinstance(error.cause, ApplicationError)
            return error.cause.message
        return "no error"


@workflow.defn
class ParentThatCancelsItsChild:
    @workflow.run
    async def run(self) -> str:
        child = await workflow.start_child_workflow(Sleeper.run, id=f"{workflow.info().workflow_id}-child")
        child.cancel()
        return await child


@workflow.defn
class ParentThatLeaves:
    @workflow.run
    async def run(self, policy: ParentClosePolicy) -> str:
        child = await workflow.start_child_workflow(
            Sleeper.run, id=f"{workflow.info().workflow_id}-child", parent_close_policy=policy
        )
        return child.id


@workflow.defn
class ParentOfDuplicate:
    @workflow.run
    async def run(self, child_id: str) -> str:
        try:
            await workflow.start_child_workflow(
                Sleeper.run,
                id=child_id,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError as error:
            return type(error).__name__
        return "started"


@workflow.defn
class Signaller:
    @workflow.run
    async def run(self, target: str) -> None:
        await workflow.get_external_workflow_handle(target).signal(Receiver.ping, "hello")


@workflow.defn
class SignallerOfNobody:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.get_external_workflow_handle("no-such-workflow-anywhere").signal("ping")
        except ApplicationError as error:
            return error.message
        return "delivered"


@workflow.defn
class Canceller:
    @workflow.run
    async def run(self, target: str) -> None:
        await workflow.get_external_workflow_handle(target).cancel()


ALL = [
    TimesTen,
    FailingChild,
    Sleeper,
    Receiver,
    ParentOfTimesTen,
    ParentOfFailingChild,
    ParentThatCancelsItsChild,
    ParentThatLeaves,
    ParentOfDuplicate,
    Signaller,
    SignallerOfNobody,
    Canceller,
]


async def test_a_child_result_reaches_its_parent(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        handle = await client.start_workflow(ParentOfTimesTen.run, 4, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == 40
    types = await event_types(handle)
    assert types[4:6] == ["START_CHILD_WORKFLOW_EXECUTION_INITIATED", "CHILD_WORKFLOW_EXECUTION_STARTED"]
    assert "CHILD_WORKFLOW_EXECUTION_COMPLETED" in types
    child = client.get_workflow_handle(f"{workflow_id}-child")
    (started,) = await events_of_type(child, "WORKFLOW_EXECUTION_STARTED")
    attributes = started.workflow_execution_started_event_attributes
    assert attributes.parent_workflow_execution.workflow_id == workflow_id
    assert attributes.parent_initiated_event_id == 5
    assert attributes.root_workflow_execution.workflow_id == workflow_id
    described = await child.describe()
    assert described.parent_id == workflow_id
    await save_history(handle, "child_parent")


async def test_a_child_failure_reaches_its_parent(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        handle = await client.start_workflow(ParentOfFailingChild.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "child gave up"
    assert "CHILD_WORKFLOW_EXECUTION_FAILED" in await event_types(handle)


async def test_a_parent_cancels_its_child(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        handle = await client.start_workflow(
            ParentThatCancelsItsChild.run, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "cancelled"
    types = await event_types(handle)
    assert "REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED" in types
    assert "EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED" in types
    assert "CHILD_WORKFLOW_EXECUTION_COMPLETED" in types


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        (ParentClosePolicy.TERMINATE, WorkflowExecutionStatus.TERMINATED),
        (ParentClosePolicy.REQUEST_CANCEL, WorkflowExecutionStatus.COMPLETED),
        (ParentClosePolicy.ABANDON, WorkflowExecutionStatus.RUNNING),
    ],
)
async def test_parent_close_policies(
    client: Client,
    task_queue: str,
    workflow_id: str,
    policy: ParentClosePolicy,
    status: WorkflowExecutionStatus,
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        handle = await client.start_workflow(
            ParentThatLeaves.run, policy, id=workflow_id, task_queue=task_queue
        )
        child = client.get_workflow_handle(await handle.result())
        if status == WorkflowExecutionStatus.COMPLETED:
            assert await child.result() == "cancelled"
        elif status == WorkflowExecutionStatus.TERMINATED:
            with pytest.raises(WorkflowFailureError):
                await child.result()
        else:
            await asyncio.sleep(0.5)
        assert (await child.describe()).status == status
        if status == WorkflowExecutionStatus.RUNNING:
            await child.terminate()


async def test_a_child_id_already_running_fails_the_start(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        blocker = await client.start_workflow(Sleeper.run, id=f"{workflow_id}-taken", task_queue=task_queue)
        handle = await client.start_workflow(
            ParentOfDuplicate.run, f"{workflow_id}-taken", id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() != "started"
        await blocker.terminate()
    assert "START_CHILD_WORKFLOW_EXECUTION_FAILED" in await event_types(handle)


async def test_a_workflow_signals_another(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        receiver = await client.start_workflow(
            Receiver.run, id=f"{workflow_id}-receiver", task_queue=task_queue
        )
        sender = await client.start_workflow(
            Signaller.run, f"{workflow_id}-receiver", id=workflow_id, task_queue=task_queue
        )
        await sender.result()
        assert await receiver.result() == "hello"
    types = await event_types(sender)
    assert types[4:6] == [
        "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED",
        "EXTERNAL_WORKFLOW_EXECUTION_SIGNALED",
    ]
    (signaled,) = await events_of_type(receiver, "WORKFLOW_EXECUTION_SIGNALED")
    assert (
        signaled.workflow_execution_signaled_event_attributes.external_workflow_execution.workflow_id
        == workflow_id
    )


async def test_signalling_a_missing_workflow_fails_in_the_sender(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        handle = await client.start_workflow(SignallerOfNobody.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() != "delivered"
    assert "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED" in await event_types(handle)


async def test_a_workflow_cancels_another(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=ALL):
        target = await client.start_workflow(Sleeper.run, id=f"{workflow_id}-target", task_queue=task_queue)
        canceller = await client.start_workflow(
            Canceller.run, f"{workflow_id}-target", id=workflow_id, task_queue=task_queue
        )
        await canceller.result()
        assert await target.result() == "cancelled"
    (requested,) = await events_of_type(target, "WORKFLOW_EXECUTION_CANCEL_REQUESTED")
    assert requested.workflow_execution_cancel_requested_event_attributes.external_initiated_event_id == 5


@workflow.defn
class ChainedChild:
    @workflow.run
    async def run(self, n: int) -> int:
        if n < 3:
            workflow.continue_as_new(n + 1)
        return n * 100


@workflow.defn
class ParentOfChainedChild:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_child_workflow(
            ChainedChild.run, 0, id=f"{workflow.info().workflow_id}-child"
        )


async def test_a_child_that_continues_as_new_reports_its_last_result(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ChainedChild, ParentOfChainedChild]):
        handle = await client.start_workflow(ParentOfChainedChild.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == 300
