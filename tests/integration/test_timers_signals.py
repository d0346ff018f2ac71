"""Durable timers, timer cancellation, signals, signal-with-start and wait_condition."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history


@workflow.defn
class TimerWorkflow:
    @workflow.run
    async def run(self) -> float:
        before = workflow.now()
        await workflow.sleep(1)
        return (workflow.now() - before).total_seconds()


@workflow.defn
class WaitForTimeoutWorkflow:
    """asyncio.wait_for on a long sleep: the 1 s timeout timer fires, the 60 s one is cancelled."""

    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.wait_for(workflow.sleep(60), timeout=1)
        except TimeoutError:
            return "timed out"
        return "slept"


@workflow.defn
class CancelSleepTaskWorkflow:
    """Starts a long sleep as a task, then cancels it once a shorter timer has fired."""

    @workflow.run
    async def run(self) -> str:
        long_sleep = asyncio.create_task(workflow.sleep(60))
        await workflow.sleep(1)
        long_sleep.cancel()
        try:
            await long_sleep
        except asyncio.CancelledError:
            return "cancelled"
        return "slept"


@workflow.defn
class CollectSignalsWorkflow:
    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= expected)
        return self.items

    @workflow.signal
    async def add(self, item: str) -> None:
        self.items.append(item)


@workflow.defn
class WaitConditionWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, timeout_seconds: float) -> str:
        try:
            await workflow.wait_condition(lambda: self.released, timeout=timedelta(seconds=timeout_seconds))
        except TimeoutError:
            return "timed out"
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.released = True


def worker(client: Client, task_queue: str, workflow_class: type) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[workflow_class])


async def test_durable_timer(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, TimerWorkflow):
        handle = await client.start_workflow(TimerWorkflow.run, id=workflow_id, task_queue=task_queue)
        # Workflow time moves on by at least the timer's duration.
        assert await handle.result() >= 1.0
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "TIMER_FIRED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    (started,) = await events_of_type(handle, "TIMER_STARTED")
    attrs = started.timer_started_event_attributes
    assert attrs.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=1)
    (fired,) = await events_of_type(handle, "TIMER_FIRED")
    assert fired.timer_fired_event_attributes.timer_id == attrs.timer_id
    assert fired.timer_fired_event_attributes.started_event_id == started.event_id
    await save_history(handle, "timer_fired")


async def test_timer_cancelled_by_wait_for(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, WaitForTimeoutWorkflow):
        handle = await client.start_workflow(
            WaitForTimeoutWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "timed out"
    types = await event_types(handle)
    assert types.count("TIMER_STARTED") == 2
    assert types.count("TIMER_FIRED") == 1
    assert types.count("TIMER_CANCELED") == 1
    assert types.index("TIMER_FIRED") < types.index("TIMER_CANCELED")
    (canceled,) = await events_of_type(handle, "TIMER_CANCELED")
    long_timer = next(
        e
        for e in await events_of_type(handle, "TIMER_STARTED")
        if e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=60)
    )
    attrs = canceled.timer_canceled_event_attributes
    assert attrs.timer_id == long_timer.timer_started_event_attributes.timer_id
    assert attrs.started_event_id == long_timer.event_id
    await save_history(handle, "timer_cancelled_wait_for")


async def test_timer_cancelled_by_task_cancel(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, CancelSleepTaskWorkflow):
        handle = await client.start_workflow(
            CancelSleepTaskWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "cancelled"
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_STARTED",
        "TIMER_STARTED",
        "TIMER_FIRED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "TIMER_CANCELED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    await save_history(handle, "timer_cancelled_task_cancel")


async def test_signals_delivered_in_order(client: Client, task_queue: str, workflow_id: str) -> None:
    items = [f"item-{i}" for i in range(5)]
    async with worker(client, task_queue, CollectSignalsWorkflow):
        handle = await client.start_workflow(
            CollectSignalsWorkflow.run, len(items), id=workflow_id, task_queue=task_queue
        )
        for item in items:
            await handle.signal(CollectSignalsWorkflow.add, item)
        assert await handle.result() == items
    signaled = await events_of_type(handle, "WORKFLOW_EXECUTION_SIGNALED")
    assert [e.workflow_execution_signaled_event_attributes.signal_name for e in signaled] == ["add"] * len(
        items
    )
    await save_history(handle, "signals_in_order")


async def test_signals_before_worker_runs(client: Client, task_queue: str, workflow_id: str) -> None:
    """Signals sent before any worker polls are all delivered, in order, to the first task."""
    items = ["a", "b", "c"]
    handle = await client.start_workflow(
        CollectSignalsWorkflow.run, len(items), id=workflow_id, task_queue=task_queue
    )
    for item in items:
        await handle.signal(CollectSignalsWorkflow.add, item)
    async with worker(client, task_queue, CollectSignalsWorkflow):
        assert await handle.result() == items
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    await save_history(handle, "signals_before_worker")


async def test_signal_with_start(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, CollectSignalsWorkflow):
        handle = await client.start_workflow(
            CollectSignalsWorkflow.run,
            2,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="add",
            start_signal_args=["first"],
        )
        # Signal-with-start on the running workflow signals it instead of starting a new run.
        again = await client.start_workflow(
            CollectSignalsWorkflow.run,
            2,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="add",
            start_signal_args=["second"],
        )
        assert again.first_execution_run_id == handle.first_execution_run_id
        assert await handle.result() == ["first", "second"]
    types = await event_types(handle)
    assert types[:3] == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    assert types.count("WORKFLOW_EXECUTION_STARTED") == 1
    assert types.count("WORKFLOW_EXECUTION_SIGNALED") == 2
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    await save_history(handle, "signal_with_start")


async def test_wait_condition_times_out(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, WaitConditionWorkflow):
        handle = await client.start_workflow(
            WaitConditionWorkflow.run, 1.0, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "timed out"
    types = await event_types(handle)
    assert "TIMER_FIRED" in types
    await save_history(handle, "wait_condition_timeout")


async def test_wait_condition_released_by_signal(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, WaitConditionWorkflow):
        handle = await client.start_workflow(
            WaitConditionWorkflow.run, 60.0, id=workflow_id, task_queue=task_queue
        )
        await handle.signal(WaitConditionWorkflow.release)
        assert await handle.result() == "released"
    types = await event_types(handle)
    assert "WORKFLOW_EXECUTION_SIGNALED" in types
    assert "TIMER_FIRED" not in types
    await save_history(handle, "wait_condition_signal")


@workflow.defn
class StartedLate:
    @workflow.run
    async def run(self) -> str:
        return "ran"


async def test_start_delay_holds_the_first_workflow_task(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[StartedLate]):
        handle = await client.start_workflow(
            StartedLate.run, id=workflow_id, task_queue=task_queue, start_delay=timedelta(seconds=1)
        )
        described = await handle.describe()
        assert described.execution_time is not None and described.start_time is not None
        assert described.execution_time - described.start_time == timedelta(seconds=1)
        assert await handle.result() == "ran"
