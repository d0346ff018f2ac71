"""Queries answered by the worker, on running and closed workflows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio import workflow
from temporalio.api.enums.v1 import QueryRejectCondition, TaskQueueKind
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker


@workflow.defn
class Greeter:
    def __init__(self) -> None:
        self.greeting = "hello"
        self.done = False

    @workflow.query
    def current(self) -> str:
        return self.greeting

    @workflow.query
    def broken(self) -> str:
        raise RuntimeError("this query is broken")

    @workflow.signal
    def change(self, greeting: str) -> None:
        self.greeting = greeting

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return self.greeting


async def test_a_running_workflow_answers_queries(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
        handle = await client.start_workflow(Greeter.run, id=workflow_id, task_queue=task_queue)
        assert await handle.query(Greeter.current) == "hello"
        await handle.signal(Greeter.change, "bonjour")
        assert await handle.query(Greeter.current) == "bonjour"
        with pytest.raises(WorkflowQueryFailedError, match="this query is broken"):
            await handle.query(Greeter.broken)
        await handle.signal(Greeter.finish)
        assert await handle.result() == "bonjour"


async def test_a_closed_workflow_is_queried_by_replay(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
        handle = await client.start_workflow(Greeter.run, id=workflow_id, task_queue=task_queue)
        await handle.signal(Greeter.change, "hola")
        await handle.signal(Greeter.finish)
        await handle.result()
    # A new worker, with nothing cached, answers from the history.
    async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
        assert await handle.query(Greeter.current) == "hola"
        with pytest.raises(WorkflowQueryRejectedError):
            await handle.query(
                Greeter.current, reject_condition=QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN
            )


async def test_a_query_with_no_worker_times_out(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await client.start_workflow(Greeter.run, id=workflow_id, task_queue=task_queue)
    with pytest.raises(RPCError) as error:
        await handle.query(Greeter.current, rpc_timeout=timedelta(seconds=2))
    assert error.value.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)
    await handle.terminate()


async def _vanishing_sticky_worker(client: Client, task_queue: str) -> None:
    """A worker that completes the first workflow task with a sticky queue, then is gone
    without saying so (as if killed): no poll ever comes to its sticky queue."""
    task = await client.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), identity="vanishing"
        )
    )
    await client.workflow_service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=client.namespace,
            task_token=task.task_token,
            identity="vanishing",
            sticky_attributes=StickyExecutionAttributes(
                worker_task_queue=TaskQueue(
                    name=f"{task_queue}-sticky",
                    normal_name=task_queue,
                    kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY,
                ),
                schedule_to_start_timeout=Duration(seconds=3),
            ),
        )
    )


@pytest.mark.parametrize("before", ["no worker yet", "a worker that shut down", "a worker that vanished"])
async def test_a_workflow_goes_on_after_a_query_timed_out_without_a_worker(
    client: Client, task_queue: str, workflow_id: str, before: str
) -> None:
    handle = await client.start_workflow(
        Greeter.run, id=workflow_id, task_queue=task_queue, execution_timeout=timedelta(seconds=30)
    )
    if before == "a worker that shut down":  # the run was cached on a worker that went away
        async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
            assert await handle.query(Greeter.current) == "hello"
    elif before == "a worker that vanished":
        await _vanishing_sticky_worker(client, task_queue)
    for _ in range(2):
        with pytest.raises(RPCError) as error:
            await handle.query(Greeter.current, rpc_timeout=timedelta(seconds=2))
        assert error.value.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)
    await handle.signal(Greeter.change, "back")
    async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
        assert await handle.query(Greeter.current, rpc_timeout=timedelta(seconds=10)) == "back"
        await handle.signal(Greeter.finish)
        async with asyncio.timeout(15):
            assert await handle.result() == "back"
