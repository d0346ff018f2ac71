"""Cron schedules of workflows (`cron_schedule` on start): when the next run begins."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import CroniterBadDateError, croniter

from clepsydra.errors import InvalidArgument

_EVERY = re.compile(r"^@every\s+(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}
# The longest `@every` period the reference reads (a Go duration), about 292 years.
MAX_PERIOD = timedelta(microseconds=(2**63 - 1) // 1000)
NEVER = "invalid CronSchedule, no time can be found to satisfy the schedule"


def validate(schedule: str) -> None:
    every = _EVERY.match(schedule.strip())
    if every and _period(every) <= MAX_PERIOD:
        return
    if every or not croniter.is_valid(schedule.strip()):
        raise InvalidArgument(f"Invalid CronSchedule: {schedule!r}.")


def _period(every: re.Match[str]) -> timedelta:
    return float(every.group(1)) * _UNITS[every.group(2)]


def backoff(schedule: str, now: datetime) -> timedelta | None:
    """Time from `now` until the schedule's next firing (UTC); None if it never fires again
    (a day that does not exist, a year that has passed)."""
    schedule = schedule.strip()
    every = _EVERY.match(schedule)
    if every:
        return min(_period(every), MAX_PERIOD)
    try:
        following = croniter(schedule, now).get_next(datetime)
    except (CroniterBadDateError, OverflowError, ValueError):
        return None
    return following - now
