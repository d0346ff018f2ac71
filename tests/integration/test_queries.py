"""Queries answered by the worker, on running and closed workflows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import QueryRejectCondition
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
