"""A schedule across a SIGKILL: it catches up on the times it missed while the server was down,
keeps its cadence after, and never starts the same time twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from tests.server_process import ServerProcess

GUARD = 60.0
EVERY = timedelta(seconds=2)


def nominal_time(workflow_id: str) -> datetime:
    """The time a scheduled workflow's id ends with."""
    return datetime.strptime(workflow_id[-20:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def started_times(client: Client, schedule_id: str) -> list[datetime]:
    """The nominal time of every workflow the schedule started (no worker runs them)."""
    query = f"TemporalScheduledById = '{schedule_id}'"
    return sorted([nominal_time(w.id) async for w in client.list_workflows(query)])


async def test_a_schedule_catches_up_after_a_crash_and_starts_each_time_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "schedules.db", tmp_path / "server.log")
    await server.start()
    try:
        client = await Client.connect(server.target)
        schedule_id = f"every-2s-{uuid.uuid4()}"
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow("Report", id="report", task_queue="nobody-polls"),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            ),
        )
        async with asyncio.timeout(GUARD):
            while len(await started_times(client, schedule_id)) < 2:
                await asyncio.sleep(0.2)

        server.kill()
        down_since = datetime.now(UTC)
        await asyncio.sleep(5)  # two or three times come due while nobody is there
        await server.start()
        up_again = datetime.now(UTC)

        client = await Client.connect(server.target)
        async with asyncio.timeout(GUARD):
            while (times := await started_times(client, schedule_id))[-1] < up_again + 2 * EVERY:
                await asyncio.sleep(0.2)
        # Every 2-second slot from the first to the last, each exactly once: the missed ones
        # were started on restart (the catch-up window is a year) and none twice.
        assert times == [times[0] + i * EVERY for i in range(len(times))]
        assert any(down_since < t < up_again for t in times)
    finally:
        server.stop()
