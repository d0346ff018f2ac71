"""Tests of the nightly ETL, with a real worker, on an in-process Clepsydra server.

The fixtures come from Clepsydra's pytest plugin (see the repository's README):
`clepsydra_client` is a client of a server shared by the session, and
`clepsydra_time_skipping_env` a `WorkflowEnvironment` on a server of the test's own
whose clock skips ahead whenever nothing but waiting is left to do, so a night
until 02:00 or a retry's back-off passes in an instant. Every database is created
in the test's `tmp_path`.

    cd examples/etl && python -m pytest
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleBackfill,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    WorkflowFailureError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from pipeline import EtlInput, EtlResult, NightlyEtl
from schedule import nightly_schedule
from seed import seed_orders
from steps import EtlActivities, Progress
from warehouse import SOURCE_SCHEMA, ReportRow, connect, day_bounds, report_day, report_rows

BATCH_SIZE = 25  # 80 to 160 orders a day: 4 to 7 batches


@pytest.fixture
def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def steps(tmp_path: Path, today: date) -> EtlActivities:
    """The activities, on a shop with orders from 20 days ago to 5 days ahead, and an empty warehouse.

    Days ahead: on a time-skipping server, the nights to come are soon in the past.
    """
    source = tmp_path / "etl-orders.db"
    seed_orders(source, today - timedelta(days=20), today + timedelta(days=5), seed=7)
    return EtlActivities(source, tmp_path / "etl-warehouse.db", batch_size=BATCH_SIZE)


@contextlib.asynccontextmanager
async def etl_worker(client: Client, task_queue: str, steps: EtlActivities) -> AsyncIterator[Worker]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[NightlyEtl],
            activities=steps.as_list(),
            activity_executor=pool,
        ) as worker:
            yield worker


def expected_report(steps: EtlActivities, day: date, time_zone: str = "UTC") -> list[ReportRow]:
    """The report of `day`, straight from the orders with one SQL query."""
    start, end = day_bounds(day, time_zone)
    db = connect(steps.source, SOURCE_SCHEMA)
    try:
        rows: list[ReportRow] = db.execute(
            "SELECT ?, product, COUNT(*), SUM(quantity), SUM(quantity * unit_price_cents) FROM orders"
            " WHERE created_at >= ? AND created_at < ? GROUP BY product ORDER BY product",
            (day.isoformat(), start, end),
        ).fetchall()
    finally:
        db.close()
    assert rows, f"no orders on {day}: the test would prove nothing"
    return rows


async def run_day(client: Client, task_queue: str, params: EtlInput) -> EtlResult:
    return await client.execute_workflow(
        NightlyEtl.run, params, id=f"etl-{uuid.uuid4().hex[:12]}", task_queue=task_queue
    )


async def test_a_day_runs_as_a_workflow(
    clepsydra_client: Client, clepsydra_task_queue: str, steps: EtlActivities, today: date
) -> None:
    day = today - timedelta(days=3)
    async with etl_worker(clepsydra_client, clepsydra_task_queue, steps):
        result = await run_day(clepsydra_client, clepsydra_task_queue, EtlInput(day=day.isoformat()))

    expected = expected_report(steps, day)
    assert report_rows(steps.warehouse) == expected
    assert result == EtlResult(
        day.isoformat(), sum(row[2] for row in expected), len(expected), sum(row[4] for row in expected)
    )


async def test_running_a_day_again_replaces_its_rows(
    clepsydra_client: Client, clepsydra_task_queue: str, steps: EtlActivities, today: date
) -> None:
    day, other_day = today - timedelta(days=5), today - timedelta(days=6)
    async with etl_worker(clepsydra_client, clepsydra_task_queue, steps):
        await run_day(clepsydra_client, clepsydra_task_queue, EtlInput(day=other_day.isoformat()))
        first = await run_day(clepsydra_client, clepsydra_task_queue, EtlInput(day=day.isoformat()))
        rows_after_first = report_rows(steps.warehouse)
        second = await run_day(clepsydra_client, clepsydra_task_queue, EtlInput(day=day.isoformat()))

    assert second == first
    assert report_rows(steps.warehouse) == rows_after_first
    assert report_rows(steps.warehouse) == expected_report(steps, other_day) + expected_report(steps, day)


async def test_a_run_started_by_hand_reports_on_yesterday_in_its_time_zone(
    clepsydra_client: Client, clepsydra_task_queue: str, steps: EtlActivities
) -> None:
    zone = "Pacific/Auckland"  # 11 to 13 hours ahead of UTC: its days are not UTC days
    async with etl_worker(clepsydra_client, clepsydra_task_queue, steps):
        handle = await clepsydra_client.start_workflow(
            NightlyEtl.run,
            EtlInput(time_zone=zone),
            id=f"etl-{uuid.uuid4().hex[:12]}",
            task_queue=clepsydra_task_queue,
        )
        result = await handle.result()
        history = await handle.fetch_history()

    # What `workflow.now()` read: the time its first workflow task started.
    first_task = next(e for e in history.events if e.HasField("workflow_task_started_event_attributes"))
    day = report_day(first_task.event_time.ToDatetime(UTC), zone)
    assert result.day == day.isoformat()
    assert report_rows(steps.warehouse) == expected_report(steps, day, zone)


async def test_an_unknown_time_zone_fails_the_run(
    clepsydra_client: Client, clepsydra_task_queue: str, steps: EtlActivities
) -> None:
    async with etl_worker(clepsydra_client, clepsydra_task_queue, steps):
        with pytest.raises(WorkflowFailureError) as failure:
            await run_day(clepsydra_client, clepsydra_task_queue, EtlInput(time_zone="Mars/Olympus_Mons"))

    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.message == "unknown time zone 'Mars/Olympus_Mons'"
    assert report_rows(steps.warehouse) == []


def test_transform_resumes_from_its_last_heartbeat(steps: EtlActivities, today: date) -> None:
    day = (today - timedelta(days=2)).isoformat()
    steps.extract(day, "UTC")
    heartbeats: list[dict[str, Any]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: heartbeats.append(details[0])
    whole = env.run(steps.transform, day)

    # A second attempt, told by the server how far the first one got after two batches.
    after_two = heartbeats[1]
    resumed: list[dict[str, Any]] = []
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_details=[after_two], attempt=2)
    env.on_heartbeat = lambda *details: resumed.append(details[0])
    assert env.run(steps.transform, day) == whole
    assert [Progress(**h).orders for h in resumed] == [Progress(**h).orders for h in heartbeats[2:]]


class CrashingOnce(EtlActivities):
    """A transform whose first attempt dies after its second batch, as if its worker were killed."""

    def __init__(self, steps: EtlActivities) -> None:
        super().__init__(steps.source, steps.warehouse, batch_size=steps.batch_size)
        self.heartbeats: list[tuple[int, int]] = []  # (attempt, orders counted so far)

    def heartbeat(self, progress: Progress) -> None:
        super().heartbeat(progress)
        attempt = activity.info().attempt
        self.heartbeats.append((attempt, progress.orders))
        if attempt == 1 and len(self.heartbeats) == 2:
            raise RuntimeError("worker lost in the middle of a transform")


async def test_a_retried_transform_carries_on_from_its_last_heartbeat(
    clepsydra_time_skipping_env: WorkflowEnvironment,
    clepsydra_task_queue: str,
    steps: EtlActivities,
    today: date,
) -> None:
    env = clepsydra_time_skipping_env
    day = today - timedelta(days=4)
    crashing = CrashingOnce(steps)
    async with etl_worker(env.client, clepsydra_task_queue, crashing):
        handle = await env.client.start_workflow(
            NightlyEtl.run,
            EtlInput(day=day.isoformat()),
            id=f"etl-{uuid.uuid4().hex[:12]}",
            task_queue=clepsydra_task_queue,
        )
        await handle.result()  # the retry's back-off is skipped here

    assert report_rows(steps.warehouse) == expected_report(steps, day)
    retried = [orders for attempt, orders in crashing.heartbeats if attempt == 2]
    # The second attempt started after at least the first batch, not from the first order.
    assert retried[0] > BATCH_SIZE


async def finished_runs(client: Client, handle: ScheduleHandle, count: int) -> list[ScheduleActionResult]:
    """Wait for the schedule's first `count` runs to end (each must succeed); returns them."""
    async with asyncio.timeout(60):
        while True:
            info = (await handle.describe()).info
            for running in info.running_actions:
                assert isinstance(running, ScheduleActionExecutionStartWorkflow)
                await client.get_workflow_handle(running.workflow_id).result()
            if info.num_actions >= count and not info.running_actions:
                return list(info.recent_actions)
            await asyncio.sleep(0.1)


async def run_results(client: Client, runs: list[ScheduleActionResult]) -> list[EtlResult]:
    results = []
    for run in runs:
        assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
        handle = client.get_workflow_handle_for(NightlyEtl.run, run.action.workflow_id)
        results.append(await handle.result())
    return results


async def test_schedule_trigger_and_backfill(
    clepsydra_client: Client, clepsydra_task_queue: str, steps: EtlActivities, today: date
) -> None:
    schedule_id, workflow_id = f"nightly-etl-{uuid.uuid4().hex[:8]}", f"etl-{uuid.uuid4().hex[:8]}"
    # The nights of 10, 9 and 8 days ago, each reporting on the day before.
    backfill = ScheduleBackfill(
        start_at=datetime.combine(today - timedelta(days=10), time(), UTC),
        end_at=datetime.combine(today - timedelta(days=8), time(12), UTC),
        overlap=ScheduleOverlapPolicy.BUFFER_ALL,
    )
    async with etl_worker(clepsydra_client, clepsydra_task_queue, steps):
        handle = await clepsydra_client.create_schedule(
            schedule_id, nightly_schedule(task_queue=clepsydra_task_queue, workflow_id=workflow_id)
        )
        try:
            await handle.trigger()
            await handle.backfill(backfill)
            runs = await finished_runs(clepsydra_client, handle, 4)
            results = await run_results(clepsydra_client, runs)
        finally:
            await handle.delete()

    backfilled = [today - timedelta(days=n) for n in (11, 10, 9)]
    days = sorted(report_day(run.scheduled_at, "UTC") for run in runs)
    assert days[:3] == backfilled  # the trigger's day, yesterday, comes last
    assert sorted(result.day for result in results) == [day.isoformat() for day in days]
    for run in runs:
        assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
        assert run.action.workflow_id == f"{workflow_id}-{run.scheduled_at:%Y-%m-%dT%H:%M:%SZ}"
    expected = [row for day in days for row in expected_report(steps, day)]
    assert report_rows(steps.warehouse) == expected


async def test_the_schedule_fires_by_itself_at_2am(
    clepsydra_time_skipping_env: WorkflowEnvironment, clepsydra_task_queue: str, steps: EtlActivities
) -> None:
    env = clepsydra_time_skipping_env
    async with etl_worker(env.client, clepsydra_task_queue, steps):
        handle = await env.client.create_schedule(
            "nightly-etl", nightly_schedule(task_queue=clepsydra_task_queue, workflow_id="nightly-etl")
        )
        next_run = (await handle.describe()).info.next_action_times[0]
        assert next_run - await env.get_current_time() <= timedelta(days=1)
        await env.sleep(timedelta(days=1))  # skipped, not waited for
        runs = await finished_runs(env.client, handle, 1)
        results = await run_results(env.client, runs)

    day = report_day(next_run, "UTC")
    assert [run.scheduled_at for run in runs] == [next_run]
    assert [result.day for result in results] == [day.isoformat()]
    assert report_rows(steps.warehouse) == expected_report(steps, day)


async def test_a_paused_schedule_starts_nothing_until_unpaused(
    clepsydra_time_skipping_env: WorkflowEnvironment, clepsydra_task_queue: str, steps: EtlActivities
) -> None:
    env = clepsydra_time_skipping_env
    async with etl_worker(env.client, clepsydra_task_queue, steps):
        handle = await env.client.create_schedule(
            "nightly-etl",
            nightly_schedule(task_queue=clepsydra_task_queue, workflow_id="nightly-etl", paused=True),
        )
        await env.sleep(timedelta(days=2))
        assert (await handle.describe()).info.num_actions == 0

        await handle.unpause(note="source migrated")
        unpaused = await handle.describe()
        next_run = unpaused.info.next_action_times[0]
        await env.sleep(timedelta(days=1))
        runs = await finished_runs(env.client, handle, 1)

    assert (unpaused.schedule.state.paused, unpaused.schedule.state.note) == (False, "source migrated")
    # The nights it slept through while paused are not made up for: only the next one runs.
    assert [run.scheduled_at for run in runs] == [next_run]
    assert report_rows(steps.warehouse) == expected_report(steps, report_day(next_run, "UTC"))
