"""Kill the server with SIGKILL while workflows are in flight, restart it on the same file.

These tests start a server of their own (not the session fixture), because they kill it.
A worker in the test process stays connected across the crash: the SDK's client and
worker reconnect by themselves once the server is back on the same port.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tests.server_process import ServerProcess

# Only a guard against hanging forever; nothing here asserts on how long things take.
GUARD = 90.0

# The sandbox re-imports the workflow's module, with pytest, for every workflow run;
# passing pytest through keeps dozens of workflow starts cheap for the worker.
RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("pytest", "_pytest")
)


@dataclass
class Job:
    n: int
    first_step_seconds: float
    """How long the first activity takes, so that workflows are at different stages."""
    sleep_seconds: float
    """The durable timer between the first and the second activity."""


def expected_result(n: int) -> int:
    return (n + 1) * 3 + n


@dataclass(frozen=True)
class Execution:
    workflow_id: str
    activity_id: str
    attempt: int
    result: int


class Steps:
    """Activities that record every execution in the test process."""

    def __init__(self) -> None:
        self.executions: list[Execution] = []

    def _record(self, result: int) -> int:
        info = activity.info()
        assert info.workflow_id is not None
        self.executions.append(Execution(info.workflow_id, info.activity_id, info.attempt, result))
        return result

    @activity.defn
    async def add(self, a: int, b: int, seconds: float) -> int:
        await asyncio.sleep(seconds)
        return self._record(a + b)

    @activity.defn
    async def multiply(self, a: int, b: int) -> int:
        return self._record(a * b)


@workflow.defn
class CrashWorkflow:
    @workflow.run
    async def run(self, job: Job) -> int:
        # start_to_close is short so that an activity whose completion the crash
        # swallowed is retried soon after the restart.
        timeout = timedelta(seconds=5)
        a = await workflow.execute_activity_method(
            Steps.add, args=[job.n, 1, job.first_step_seconds], start_to_close_timeout=timeout
        )
        await asyncio.sleep(job.sleep_seconds)
        b = await workflow.execute_activity_method(
            Steps.multiply, args=[a, 3], start_to_close_timeout=timeout
        )
        return await workflow.execute_activity_method(
            Steps.add, args=[b, job.n, 0.0], start_to_close_timeout=timeout
        )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "crash.db", tmp_path / "server.log")
    await proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
async def client(server: ServerProcess) -> Client:
    return await Client.connect(server.target)


@pytest.fixture
async def worker(client: Client, steps: Steps) -> AsyncIterator[Worker]:
    task_queue = f"crash-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CrashWorkflow],
        activities=[steps.add, steps.multiply],
        workflow_runner=RUNNER,
    ) as running:
        yield running


async def completed_activities(handle: WorkflowHandle[CrashWorkflow, int]) -> set[str]:
    """Activity ids whose completion the server has recorded in the workflow's history."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    done: set[str] = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            done.add(scheduled[attributes.scheduled_event_id])
    return done


async def assert_one_completed_run(handle: WorkflowHandle[CrashWorkflow, int]) -> None:
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert description.run_id == handle.first_execution_run_id
    history = await handle.fetch_history()
    types = [event.event_type for event in history.events]
    assert types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == 1
    assert types[0] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert types[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id == ""
    assert started.first_execution_run_id == handle.first_execution_run_id


async def test_kill_while_workflows_are_in_flight(
    server: ServerProcess, client: Client, worker: Worker, steps: Steps
) -> None:
    count = 20
    handles = [
        await client.start_workflow(
            CrashWorkflow.run,
            # The first activity takes 0..1.9 s, so at the kill some workflows are in
            # their first activity and others are sleeping on their timer.
            Job(n=n, first_step_seconds=0.1 * n, sleep_seconds=2.0),
            id=f"crash-{n}-{uuid.uuid4()}",
            task_queue=worker.task_queue,
        )
        for n in range(count)
    ]

    async with asyncio.timeout(GUARD):
        # Wait until the server has recorded some progress, then kill it mid-flight.
        while True:
            acknowledged = {
                (handle.id, activity_id)
                for handle in handles
                for activity_id in await completed_activities(handle)
            }
            if len(acknowledged) >= count // 4:
                break
            await asyncio.sleep(0.05)
        server.kill()
        executions_at_kill = len(steps.executions)

        await server.start()
        results = await asyncio.gather(*(handle.result() for handle in handles))

    assert results == [expected_result(n) for n in range(count)]
    for handle in handles:
        await assert_one_completed_run(handle)

    # Nothing the server had acknowledged before the kill ran again after it.
    runs: dict[tuple[str, str], list[Execution]] = {}
    for execution in steps.executions:
        runs.setdefault((execution.workflow_id, execution.activity_id), []).append(execution)
    for key in acknowledged:
        assert len(runs[key]) == 1, f"{key} was acknowledged before the kill but ran again"
    # Every workflow ran each of its three activities, and the result the workflow used
    # is one the activity produced (all attempts of one activity agree: they are pure).
    for handle in handles:
        for activity_id in ("1", "2", "3"):
            attempts = runs[(handle.id, activity_id)]
            assert len({execution.result for execution in attempts}) == 1
    assert len(steps.executions) >= count * 3
    assert executions_at_kill < count * 3, "the kill came after all the work was done"


async def test_kill_during_a_burst_of_starts(server: ServerProcess, client: Client, worker: Worker) -> None:
    count = 40
    acknowledged: list[WorkflowHandle[CrashWorkflow, int]] = []
    ids = [f"burst-{n}-{uuid.uuid4()}" for n in range(count)]

    async def start(n: int) -> None:
        await asyncio.sleep(0.02 * n)
        try:
            handle = await client.start_workflow(
                CrashWorkflow.run,
                Job(n=n, first_step_seconds=0.0, sleep_seconds=0.1),
                id=ids[n],
                task_queue=worker.task_queue,
            )
        except WorkflowAlreadyStartedError:
            # A retry of a start the server had already taken: it exists, too.
            handle = client.get_workflow_handle_for(CrashWorkflow.run, ids[n])
        except RPCError:
            return  # no answer: this start may or may not have happened
        acknowledged.append(handle)

    async with asyncio.timeout(GUARD):
        starts = [asyncio.create_task(start(n)) for n in range(count)]
        while len(acknowledged) < count // 4:
            await asyncio.sleep(0.01)
        server.kill()
        await server.start()
        await asyncio.gather(*starts)

        assert len(acknowledged) >= count // 4
        acknowledged_ids = {handle.id for handle in acknowledged}
        # Every start the client got an answer for exists and runs to completion.
        for handle in acknowledged:
            n = ids.index(handle.id)
            assert await handle.result() == expected_result(n)
            if handle.first_execution_run_id is not None:
                await assert_one_completed_run(handle)
        # Starts that got no answer either never happened or run to completion, too.
        for n, workflow_id in enumerate(ids):
            if workflow_id in acknowledged_ids:
                continue
            unanswered = client.get_workflow_handle_for(CrashWorkflow.run, workflow_id)
            try:
                assert await unanswered.result() == expected_result(n)
            except RPCError as err:
                assert err.status == RPCStatusCode.NOT_FOUND
