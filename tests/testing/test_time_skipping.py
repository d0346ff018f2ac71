"""Time skipping on an in-process server, through the SDK's WorkflowEnvironment API and real gRPC.

Nothing here measures wall time: each test checks what the workflow saw and how far
the server's clock (`env.get_current_time()`) moved.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from google.protobuf.empty_pb2 import Empty
from temporalio.api.testservice.v1 import (
    LockTimeSkippingRequest,
    SleepUntilRequest,
    UnlockTimeSkippingRequest,
)
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from clepsydra.testing import TimeSkippingEnvironment
from tests.testing.workflows import (
    Flaky,
    Gate,
    GreetingWorkflow,
    ParentWorkflow,
    RaceWorkflow,
    RetryWorkflow,
    SleepWorkflow,
    greet,
)

DAY = timedelta(days=1)


@pytest.fixture
async def env(clepsydra_time_skipping_env: TimeSkippingEnvironment) -> TimeSkippingEnvironment:
    return clepsydra_time_skipping_env


@pytest.fixture
async def worker(env: TimeSkippingEnvironment, clepsydra_task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(
        env.client,
        task_queue=clepsydra_task_queue,
        workflows=[SleepWorkflow, GreetingWorkflow],
        activities=[greet],
    ) as running:
        yield running


async def test_a_month_of_sleep_is_skipped(env: TimeSkippingEnvironment, worker: Worker) -> None:
    assert env.supports_time_skipping
    before = await env.get_current_time()

    slept = await env.client.execute_workflow(
        SleepWorkflow.run, 30 * DAY.total_seconds(), id=f"wf-{uuid.uuid4()}", task_queue=worker.task_queue
    )

    assert slept >= 30 * DAY.total_seconds()
    moved = await env.get_current_time() - before
    assert 30 * DAY <= moved < 30 * DAY + timedelta(minutes=1)  # no jump to stale timeouts


async def test_activities_run_in_real_time_between_skips(
    env: TimeSkippingEnvironment, worker: Worker
) -> None:
    greeting = await env.client.execute_workflow(
        GreetingWorkflow.run, "Ada", id=f"wf-{uuid.uuid4()}", task_queue=worker.task_queue
    )
    assert greeting == "Hello, Ada!"


async def test_a_child_workflow_sleeps_in_skipped_time(
    env: TimeSkippingEnvironment, clepsydra_task_queue: str
) -> None:
    async with Worker(env.client, task_queue=clepsydra_task_queue, workflows=[ParentWorkflow, SleepWorkflow]):
        slept = await env.client.execute_workflow(
            ParentWorkflow.run,
            10 * DAY.total_seconds(),
            id=f"wf-{uuid.uuid4()}",
            task_queue=clepsydra_task_queue,
        )
    assert slept >= 10 * DAY.total_seconds()


async def test_env_sleep_skips_time(env: TimeSkippingEnvironment) -> None:
    before = await env.get_current_time()
    await env.sleep(timedelta(days=3))
    moved = await env.get_current_time() - before
    assert timedelta(days=3) <= moved < timedelta(days=3, minutes=1)


async def test_env_sleep_fires_the_timers_it_passes(env: TimeSkippingEnvironment, worker: Worker) -> None:
    handle = await env.client.start_workflow(
        SleepWorkflow.run, 2 * 3600, id=f"wf-{uuid.uuid4()}", task_queue=worker.task_queue
    )
    await env.sleep(timedelta(hours=3))

    with env.auto_time_skipping_disabled():  # the workflow is done: nothing left to skip
        assert await handle.result() >= 2 * 3600


async def test_time_does_not_skip_while_locked(env: TimeSkippingEnvironment, worker: Worker) -> None:
    before = await env.get_current_time()
    handle = await env.client.start_workflow(
        SleepWorkflow.run, DAY.total_seconds(), id=f"wf-{uuid.uuid4()}", task_queue=worker.task_queue
    )
    await _wait_for_timer(handle)

    # Locked (the environment's resting state): the timer waits for real.
    assert await env.get_current_time() - before < DAY
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    assert await handle.result() >= DAY.total_seconds()  # awaiting the result unlocks
    assert await env.get_current_time() - before >= DAY


async def test_time_does_not_skip_while_an_activity_is_outstanding(
    env: TimeSkippingEnvironment, clepsydra_task_queue: str
) -> None:
    gate = Gate(asyncio.Event(), asyncio.Event())
    async with Worker(
        env.client, task_queue=clepsydra_task_queue, workflows=[RaceWorkflow], activities=[gate.wait_at_gate]
    ):
        handle = await env.client.start_workflow(
            RaceWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=clepsydra_task_queue
        )
        result = asyncio.create_task(handle.result())  # unlocked from here on
        await gate.started.wait()
        await _wait_for_timer(handle)

        # The one-hour timer is there to skip to, but the running activity holds time back.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        gate.opened.set()
        assert await result == "activity first"


async def test_retry_backoffs_are_skipped(env: TimeSkippingEnvironment, clepsydra_task_queue: str) -> None:
    flaky = Flaky(failures=2)
    before = await env.get_current_time()
    async with Worker(
        env.client, task_queue=clepsydra_task_queue, workflows=[RetryWorkflow], activities=[flaky.flaky]
    ):
        attempts = await env.client.execute_workflow(
            RetryWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=clepsydra_task_queue
        )
    assert attempts == 3
    assert await env.get_current_time() - before >= timedelta(hours=3)  # backoffs of 1 h, then 2 h


async def test_sleep_until_while_unlocked(env: TimeSkippingEnvironment) -> None:
    service = env.client.test_service
    before = await env.get_current_time()
    request = SleepUntilRequest()
    request.timestamp.FromDatetime(before + timedelta(days=5))

    await service.unlock_time_skipping(UnlockTimeSkippingRequest())
    await service.sleep_until(request)
    await service.lock_time_skipping(LockTimeSkippingRequest())

    assert await env.get_current_time() - before >= timedelta(days=5)


async def test_unbalanced_unlock_is_refused(env: TimeSkippingEnvironment) -> None:
    service = env.client.test_service
    await service.unlock_time_skipping(UnlockTimeSkippingRequest())
    with pytest.raises(RPCError) as error:
        await service.unlock_time_skipping(UnlockTimeSkippingRequest())
    assert error.value.status == RPCStatusCode.FAILED_PRECONDITION
    await service.get_current_time(Empty())  # still serving


async def _wait_for_timer(handle) -> None:  # type: ignore[no-untyped-def]
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.HasField("timer_started_event_attributes"):
            return


async def test_a_schedule_fires_on_skipped_time(env: TimeSkippingEnvironment, worker: Worker) -> None:
    """A daily schedule runs twice when two days are skipped, and nothing waits in real time."""
    handle = await env.client.create_schedule(
        f"daily-{uuid.uuid4()}",
        Schedule(
            action=ScheduleActionStartWorkflow(
                GreetingWorkflow.run, "schedule", id="greeting", task_queue=worker.task_queue
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=DAY)]),
        ),
    )
    before = await env.get_current_time()
    await env.sleep(2 * DAY + timedelta(hours=1))
    described = await handle.describe()
    assert described.info.num_actions == 2
    assert await env.get_current_time() - before >= 2 * DAY
    for action in described.info.recent_actions:
        assert await env.client.get_workflow_handle(action.action.workflow_id).result() == "Hello, schedule!"


async def test_times_that_pass_while_paused_are_not_caught_up(
    env: TimeSkippingEnvironment, worker: Worker
) -> None:
    handle = await env.client.create_schedule(
        f"paused-{uuid.uuid4()}",
        Schedule(
            action=ScheduleActionStartWorkflow(
                GreetingWorkflow.run, "paused", id="greeting", task_queue=worker.task_queue
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=DAY)]),
            state=ScheduleState(paused=True),
        ),
    )
    await env.sleep(2 * DAY)
    assert (await handle.describe()).info.num_actions == 0
    await handle.unpause()
    await env.sleep(DAY)
    assert (await handle.describe()).info.num_actions == 1  # the next day's, not the three missed
