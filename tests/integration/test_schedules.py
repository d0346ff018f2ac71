"""Schedules driven by the SDK's schedule client: create, trigger, describe, overlap policies,
backfill, pause, update, list and delete, and what the started workflows see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import CountSchedulesRequest, ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

GUARD = 30.0
SCHEDULED_BY = SearchAttributeKey.for_keyword("TemporalScheduledById")


@workflow.defn
class Report:
    """Returns how many reports came before it, counting from the last one's result."""

    @workflow.run
    async def run(self, name: str) -> int:
        previous = workflow.get_last_completion_result(int)
        return (previous or 0) + 1


@workflow.defn
class Held:
    """Runs until it is told to finish."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class Broken:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("the report is broken", non_retryable=True)


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(client, task_queue=task_queue, workflows=[Report, Held, Broken]) as running:
        yield running


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    async with asyncio.timeout(GUARD):
        while not await check():
            await asyncio.sleep(0.1)


def far_interval() -> ScheduleSpec:
    """A spec that does not fire during a test: actions come from triggers and backfills."""
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=365))])


async def create(
    client: Client,
    workflow_cls: type,
    task_queue: str,
    *,
    args: list[object] | None = None,
    spec: ScheduleSpec | None = None,
    policy: SchedulePolicy | None = None,
    state: ScheduleState | None = None,
) -> ScheduleHandle:
    schedule_id = f"sched-{uuid.uuid4()}"
    action = ScheduleActionStartWorkflow(
        workflow_cls.__name__, args=args or [], id=f"{schedule_id}-wf", task_queue=task_queue
    )
    return await client.create_schedule(
        schedule_id,
        Schedule(
            action=action,
            spec=spec or far_interval(),
            policy=policy or SchedulePolicy(),
            state=state or ScheduleState(),
        ),
    )


async def test_a_triggered_schedule_starts_its_workflow_and_describe_shows_it(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await create(client, Report, task_queue, args=["daily"])
    await handle.trigger()

    async def started() -> bool:
        return (await handle.describe()).info.num_actions == 1

    await eventually(started, "the triggered action")
    described = await handle.describe()
    action = described.info.recent_actions[0]
    assert action.action.workflow_id.startswith(f"{handle.id}-wf-")  # suffixed with the nominal time
    run = client.get_workflow_handle(action.action.workflow_id, run_id=action.action.first_execution_run_id)
    assert await run.result() == 1
    started_run = await run.describe()
    assert started_run.typed_search_attributes.get(SCHEDULED_BY) == handle.id
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP  # the default, filled in
    assert described.info.next_action_times  # the spec's next times


async def test_each_run_receives_the_last_completion_result(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await create(client, Report, task_queue, args=["weekly"])
    results = []
    for expected in (1, 2, 3):
        await handle.trigger()

        async def recorded(n: int = expected) -> bool:
            return (await handle.describe()).info.num_actions == n

        await eventually(recorded, "the action")
        last = (await handle.describe()).info.recent_actions[-1].action
        results.append(await client.get_workflow_handle(last.workflow_id).result())
    assert results == [1, 2, 3]


async def test_creating_a_schedule_twice_is_refused(client: Client, task_queue: str) -> None:
    handle = await create(client, Report, task_queue)
    with pytest.raises(ScheduleAlreadyRunningError):
        await client.create_schedule(
            handle.id,
            Schedule(
                action=ScheduleActionStartWorkflow(Report.run, "x", id="other", task_queue=task_queue),
                spec=far_interval(),
            ),
        )


async def test_buffer_one_keeps_one_start_while_the_last_runs_and_skips_the_rest(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await create(
        client, Held, task_queue, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE)
    )
    # One trigger at a time, each seen before the next: running, then buffered, then skipped.
    for running, buffered, skipped in ((1, 0, 0), (1, 1, 0), (1, 1, 1)):
        await handle.trigger()

        async def reached(want: tuple[int, int, int] = (running, buffered, skipped)) -> bool:
            described = await handle.describe()
            info = described.raw_description.info
            return (len(info.running_workflows), info.buffer_size, info.overlap_skipped) == want

        await eventually(reached, "the trigger's effect")
    first = (await handle.describe()).info.running_actions[0]
    await client.get_workflow_handle(first.workflow_id).signal(Held.finish)

    async def next_started() -> bool:
        info = (await handle.describe()).info
        return info.num_actions == 2 and len(info.running_actions) == 1

    await eventually(next_started, "the buffered start once the first closed")
    second = (await handle.describe()).info.running_actions[0]
    # Triggers in the same second share a workflow id (the nominal time is in whole seconds).
    assert second.first_execution_run_id != first.first_execution_run_id
    await client.get_workflow_handle(second.workflow_id).signal(Held.finish)


async def test_terminate_other_replaces_the_running_workflow(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await create(
        client, Held, task_queue, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.TERMINATE_OTHER)
    )
    await handle.trigger()

    async def one_running() -> bool:
        return len((await handle.describe()).info.running_actions) == 1

    await eventually(one_running, "the first start")
    first = (await handle.describe()).info.running_actions[0]
    await handle.trigger()

    async def replaced() -> bool:
        info = (await handle.describe()).info
        running = [a.first_execution_run_id for a in info.running_actions]
        return info.num_actions == 2 and running not in ([], [first.first_execution_run_id])

    await eventually(replaced, "the second start after the first was terminated")
    terminated = client.get_workflow_handle(first.workflow_id, run_id=first.first_execution_run_id)
    assert (await terminated.describe()).status.name == "TERMINATED"
    for running in (await handle.describe()).info.running_actions:
        await client.get_workflow_handle(running.workflow_id).signal(Held.finish)


async def test_backfill_starts_each_matching_time_of_the_range(
    client: Client, task_queue: str, worker: Worker
) -> None:
    hourly = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
    handle = await create(
        client,
        Report,
        task_queue,
        args=["backfill"],
        spec=hourly,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    await handle.backfill(ScheduleBackfill(start_at=start, end_at=start + timedelta(hours=3)))

    async def backfilled() -> bool:
        return (await handle.describe()).info.num_actions == 4  # 00:00 to 03:00, both ends included

    await eventually(backfilled, "the backfilled actions")
    ids = sorted(a.action.workflow_id for a in (await handle.describe()).info.recent_actions)
    assert ids == [f"{handle.id}-wf-2024-01-01T0{h}:00:00Z" for h in range(4)]


async def test_pause_and_unpause_with_notes(client: Client, task_queue: str) -> None:
    handle = await create(client, Report, task_queue)
    await handle.pause(note="maintenance window")
    described = await handle.describe()
    assert described.schedule.state.paused
    assert described.schedule.state.note == "maintenance window"
    await handle.unpause(note="back")
    described = await handle.describe()
    assert not described.schedule.state.paused
    assert described.schedule.state.note == "back"


async def test_a_failure_pauses_a_schedule_that_asks_for_it(
    client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await create(client, Broken, task_queue, policy=SchedulePolicy(pause_on_failure=True))
    await handle.trigger()

    async def paused() -> bool:
        return (await handle.describe()).schedule.state.paused

    await eventually(paused, "the pause after the failure")
    note = (await handle.describe()).schedule.state.note or ""
    assert note.startswith("paused due to workflow failure") and "the report is broken" in note


async def test_update_changes_the_action(client: Client, task_queue: str, worker: Worker) -> None:
    handle = await create(client, Report, task_queue, args=["before"])

    def rename(update: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = update.description.schedule
        assert isinstance(schedule.action, ScheduleActionStartWorkflow)
        schedule.action.args = ["after"]
        schedule.state.note = "renamed"
        return ScheduleUpdate(schedule)

    await handle.update(rename)
    described: ScheduleDescription = await handle.describe()
    assert described.schedule.state.note == "renamed"
    assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
    assert len(described.schedule.action.args) == 1


async def test_limited_actions_stop_after_the_last(client: Client, task_queue: str, worker: Worker) -> None:
    every_second = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))])
    handle = await create(
        client,
        Report,
        task_queue,
        args=["limited"],
        spec=every_second,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(limited_actions=True, remaining_actions=2),
    )

    async def used_up() -> bool:
        described = await handle.describe()
        return described.info.num_actions == 2 and described.schedule.state.remaining_actions == 0

    await eventually(used_up, "two actions")
    await asyncio.sleep(1.5)
    assert (await handle.describe()).info.num_actions == 2


async def test_list_count_and_delete(client: Client, task_queue: str) -> None:
    handle = await create(client, Report, task_queue)
    await handle.pause(note="listed")

    async def listed() -> bool:  # lists follow changes a little later on the reference
        entries = [s async for s in await client.list_schedules() if s.id == handle.id]
        return bool(entries) and entries[0].schedule is not None and entries[0].schedule.state.paused

    await eventually(listed, "the schedule in the list")
    [entry] = [s async for s in await client.list_schedules() if s.id == handle.id]
    assert entry.schedule is not None
    assert entry.schedule.state.paused and entry.schedule.state.note == "listed"
    assert entry.info is not None and len(entry.info.next_action_times) == 5
    counted = await client.workflow_service.count_schedules(
        CountSchedulesRequest(namespace=client.namespace, query="TemporalSchedulePaused = true")
    )
    assert counted.count >= 1
    # The schedule's own execution stays out of workflow lists.
    assert [
        w async for w in client.list_workflows(f"WorkflowId = 'temporal-sys-scheduler:{handle.id}'")
    ] == []

    await handle.delete()
    with pytest.raises(RPCError) as error:
        await handle.describe()
    assert error.value.status == RPCStatusCode.NOT_FOUND


async def test_matching_times_follow_the_spec(client: Client, task_queue: str) -> None:
    every_ten_minutes = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=10))])
    handle = await create(client, Report, task_queue, spec=every_ten_minutes)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    request = ListScheduleMatchingTimesRequest(namespace=client.namespace, schedule_id=handle.id)
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(start + timedelta(minutes=35))
    response = await client.workflow_service.list_schedule_matching_times(request)
    assert [t.ToDatetime(UTC) for t in response.start_time] == [
        start + timedelta(minutes=m) for m in (10, 20, 30)
    ]


async def test_a_schedules_search_attributes_are_shown_updated_and_queried(
    client: Client, task_queue: str
) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={"ScheduleOwner": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )
    owner = SearchAttributeKey.for_keyword("ScheduleOwner")
    schedule_id = f"owned-{uuid.uuid4()}"
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow("Report", "x", id=f"{schedule_id}-wf", task_queue=task_queue),
            spec=far_interval(),
        ),
        search_attributes=TypedSearchAttributes([SearchAttributePair(owner, "finance")]),
    )
    assert (await handle.describe()).typed_search_attributes.get(owner) == "finance"

    def hand_over(update: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(
            update.description.schedule,
            search_attributes=TypedSearchAttributes([SearchAttributePair(owner, "ops")]),
        )

    await handle.update(hand_over)

    async def handed_over() -> bool:  # the reference applies an update a moment later
        return (await handle.describe()).typed_search_attributes.get(owner) == "ops"

    await eventually(handed_over, "the new owner")

    async def found_by_owner() -> bool:
        return [s.id async for s in await client.list_schedules("ScheduleOwner = 'ops'")] == [schedule_id]

    await eventually(found_by_owner, "the schedule by its new owner")
    await handle.delete()
