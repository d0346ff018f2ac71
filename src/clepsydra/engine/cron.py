"""Cron schedules of workflows (`cron_schedule` on start): when the next run begins."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import croniter

from clepsydra.errors import InvalidArgument

_EVERY = re.compile(r"^@every\s+(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}


def validate(schedule: str) -> None:
    if _EVERY.match(schedule.strip()):
        return
    if not croniter.is_valid(schedule.strip()):
        raise InvalidArgument(f"Invalid CronSchedule: {schedule!r}.")


def backoff(schedule: str, now: datetime) -> timedelta:
    """Time from `now` until the schedule's next firing (UTC)."""
    schedule = schedule.strip()
    every = _EVERY.match(schedule)
    if every:
        period = float(every.group(1)) * _UNITS[every.group(2)]
        return period
    following = croniter(schedule, now).get_next(datetime)
    return following - now
