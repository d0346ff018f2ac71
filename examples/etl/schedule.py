"""Manage the `nightly-etl` schedule: it starts a `NightlyEtl` run at 02:00 every day.

    python schedule.py create [--time-zone Europe/Paris] [--paused]
    python schedule.py backfill [--days 7]    # the runs of the last 7 nights, now
    python schedule.py trigger                # one run now, for yesterday
    python schedule.py pause|unpause [--note TEXT]
    python schedule.py describe
    python schedule.py delete

Every command takes --address (default localhost:7233), --namespace (default
"default") and --schedule-id (default nightly-etl).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from pipeline import TASK_QUEUE, EtlInput, NightlyEtl

SCHEDULE_ID = "nightly-etl"


def nightly_schedule(
    *,
    time_zone: str = "UTC",
    task_queue: str = TASK_QUEUE,
    workflow_id: str = SCHEDULE_ID,
    paused: bool = False,
) -> Schedule:
    """A `NightlyEtl` run at 02:00 every day in `time_zone`, each reporting on the day before."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            NightlyEtl.run,
            EtlInput(time_zone=time_zone),
            # The server adds the nominal time: nightly-etl-2026-01-06T02:00:00Z.
            id=workflow_id,
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(2)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                    comment="02:00 every day",
                )
            ],
            time_zone_name=time_zone,
        ),
        # A run that is late (its worker down, a slow night) delays the next ones rather
        # than skipping them: every night gets its report, in order.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ALL),
        state=ScheduleState(paused=paused, note="created paused" if paused else None),
    )


def last_days(days: int, now: datetime | None = None) -> ScheduleBackfill:
    """A backfill of the nights of the last `days` days: the runs that would have started then."""
    end = now or datetime.now(UTC)
    return ScheduleBackfill(
        start_at=end - timedelta(days=days), end_at=end, overlap=ScheduleOverlapPolicy.BUFFER_ALL
    )


def time_zone(name: str) -> str:
    """A time zone name, checked: a run with a wrong one would fail every night."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone: {name!r}") from None
    return name


async def describe(handle: ScheduleHandle) -> None:
    desc = await handle.describe()
    schedule, info = desc.schedule, desc.info
    zone = ZoneInfo(schedule.spec.time_zone_name or "UTC")
    when = ", ".join(cal.comment or f"hours {cal.hour}" for cal in schedule.spec.calendars)
    print(f"Schedule {desc.id}: {when}, time zone {zone.key}")
    if isinstance(schedule.action, ScheduleActionStartWorkflow):
        print(f"  starts {schedule.action.workflow} on task queue {schedule.action.task_queue}")
    note = f" ({schedule.state.note})" if schedule.state.note else ""
    print(f"  {'paused' if schedule.state.paused else 'active'}{note}")
    print(f"  {info.num_actions} run(s) started, {info.num_actions_skipped_overlap} skipped")
    for running in info.running_actions:
        if isinstance(running, ScheduleActionExecutionStartWorkflow):
            print(f"  running: {running.workflow_id}")
    for recent in info.recent_actions[-5:]:
        if isinstance(recent.action, ScheduleActionExecutionStartWorkflow):
            scheduled_at = recent.scheduled_at.astimezone(zone)
            print(f"  recent:  {scheduled_at:%Y-%m-%d %H:%M %Z}  {recent.action.workflow_id}")
    for upcoming in info.next_action_times[:3]:
        print(f"  next:    {upcoming.astimezone(zone):%Y-%m-%d %H:%M %Z}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--schedule-id", default=SCHEDULE_ID)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("create", help="create the schedule")
    p.add_argument(
        "--time-zone", type=time_zone, default="UTC", help="time zone of 02:00 and of the days (default UTC)"
    )
    p.add_argument("--paused", action="store_true", help="create it paused")
    p = commands.add_parser("backfill", help="run now what the schedule would have run in the last days")
    p.add_argument("--days", type=int, default=7, help="how many days back (default 7)")
    commands.add_parser("trigger", help="start one run now")
    for name in ("pause", "unpause"):
        p = commands.add_parser(name, help=f"{name} the schedule")
        p.add_argument("--note", help="why, shown by describe")
    commands.add_parser("describe", help="show the schedule, its recent and next runs")
    commands.add_parser("delete", help="delete the schedule (its runs are left alone)")

    args = parser.parse_args()
    client = await Client.connect(args.address, namespace=args.namespace)
    handle = client.get_schedule_handle(args.schedule_id)
    try:
        if args.command == "create":
            schedule = nightly_schedule(time_zone=args.time_zone, paused=args.paused)
            await client.create_schedule(args.schedule_id, schedule)
            print(f"Created schedule {args.schedule_id}: NightlyEtl at 02:00 every day, {args.time_zone}")
        elif args.command == "backfill":
            await handle.backfill(last_days(args.days))
            print(f"Backfilling the last {args.days} night(s); see them with: python schedule.py describe")
        elif args.command == "trigger":
            await handle.trigger()
            print("Triggered one run; see it with: python schedule.py describe")
        elif args.command == "pause":
            await handle.pause(note=args.note or "paused by schedule.py")
            print(f"Paused {args.schedule_id}")
        elif args.command == "unpause":
            await handle.unpause(note=args.note or "unpaused by schedule.py")
            print(f"Unpaused {args.schedule_id}")
        elif args.command == "describe":
            await describe(handle)
        else:
            await handle.delete()
            print(f"Deleted schedule {args.schedule_id}")
    except ScheduleAlreadyRunningError:
        print(f"Schedule {args.schedule_id} already exists.", file=sys.stderr)
        return 1
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        print(f"No schedule {args.schedule_id}: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    # In a short-lived process, the SDK's background threads can make CPython abort
    # while shutting down (temporalio/sdk-python#300). Everything is done: skip the shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
