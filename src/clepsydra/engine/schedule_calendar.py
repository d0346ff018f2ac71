"""Calendar specs of schedules: parsing cron strings and `CalendarSpec`s into
`StructuredCalendarSpec`s, validating them, and finding the next matching time.

The parsing, the defaults and the error messages follow the reference server
(service/worker/scheduler/calendar.go). A `CompiledCalendar` searches forward field by field,
from the year in to the second, as the reference does; every wall-clock time is turned into an
instant the way Go's `time.Date` does (`go_date`), because the reference's handling of
daylight saving time (a skipped hour never matches, a repeated hour matches twice in zones west
of UTC) is a consequence of that function.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from google.protobuf.duration_pb2 import Duration
from temporalio.api.schedule.v1 import CalendarSpec, IntervalSpec, Range, StructuredCalendarSpec

MIN_YEAR = 2000
MAX_YEAR = 2100  # the reference finds no time after this year
MAX_COMMENT_BYTES = 200
HOUR = timedelta(hours=1)
NO_OFFSET = timedelta(0)

MONTHS = (
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
)  # fmt: skip
DAYS_OF_WEEK = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
PREDEFINED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Fields that also accept names: the names, the number of the first, the shortest prefix.
_NAMES: dict[str, tuple[Sequence[str], int, int]] = {
    "Month": (MONTHS, 1, 3),
    "DayOfWeek": (DAYS_OF_WEEK, 0, 2),
}
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_DURATION_UNITS = {
    "ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6,
    "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
}  # fmt: skip
_DAYS = re.compile(r"([0-9]+(\.[0-9]*)?|(\.[0-9]+))d")
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


class SpecError(ValueError):
    """A schedule spec the reference rejects; the message is the reference's."""


# --- Parsing -------------------------------------------------------------------------------


def _atoi(text: str) -> int:
    """Go's strconv.Atoi: an optionally signed decimal integer of 64 bits, with its messages."""
    if not _GO_INT.fullmatch(text):
        raise SpecError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise SpecError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


def _int32(value: int) -> int:
    """Go's int32() conversion, which wraps."""
    return (value + 2**31) % 2**32 - 2**31


def _parse_value(text: str, field: str, low: int, high: int) -> int:
    """A number in [low, high], or for months and days of week a prefix of a name."""
    names, first, shortest = _NAMES.get(field, ((), 0, 0))
    if names and len(text) >= shortest:
        for value, name in enumerate(names, start=first):
            if name.startswith(text.lower()):
                if not low <= value <= high:
                    raise SpecError("out of range")
                return value
    value = _atoi(text)
    if not low <= value <= high:
        raise SpecError("out of range")
    return value


def make_ranges(text: str, field: str, default: str, low: int, high: int) -> list[Range]:
    """Parse one field: `*`, `x`, `x-z`, `x/y`, `x-z/y`, comma-separated (the reference's makeRange)."""
    text = text.strip() or default
    if text == "*" and field == "Year":
        return []  # every year is an empty list
    ranges: list[Range] = []
    for part in text.split(","):
        step, has_step = 1, False
        if part.count("/") > 1:
            raise SpecError(f"{field} has too many slashes")
        if "/" in part:
            part, step_text = part.split("/")
            if not step_text:
                raise SpecError(f"{field} missing step value")
            step, has_step = _atoi(step_text), True
            if step < 1:
                raise SpecError(f"{field} has invalid Step")
        start, end = low, high
        if part != "*":
            start, end = _parse_bounds(part, field, low, high, has_step)
        if field == "DayOfWeek" and end == 7:
            # 7 is Sunday too: add a 0 when the range would have matched 7, then stop at 6.
            if (7 - start) % step == 0 and (step > 1 or start > 1):
                ranges.append(Range(start=0))
                if start == 7:
                    continue
            end = 6
        # Defaults (end 0 = start, step 0 = 1) keep the proto small, as the reference does.
        ranges.append(
            Range(start=start, end=0 if end == start else end, step=0 if step == 1 else _int32(step))
        )
    return ranges


def _parse_bounds(part: str, field: str, low: int, high: int, has_step: bool) -> tuple[int, int]:
    if "-" not in part:
        try:
            start = _parse_value(part, field, low, high)
        except SpecError:
            raise SpecError(f"{field} is not in range [{low}-{high}]") from None
        # With a step, a single value runs to the end of the field.
        return start, high if has_step else start
    if part.count("-") > 1:
        raise SpecError(f"{field} has too many dashes")
    first, last = part.split("-")
    try:
        start = _parse_value(first, field, low, high)
    except SpecError:
        raise SpecError(f"{field} Start is not in range [{low}-{high}]") from None
    try:
        end = _parse_value(last, field, start, high)
    except SpecError:
        raise SpecError(f"{field} End is before Start or not in range [{low}-{high}]") from None
    return start, end


def calendar_to_structured(cal: CalendarSpec) -> StructuredCalendarSpec:
    """A `CalendarSpec` with the reference's defaults: second, minute and hour 0, the rest `*`."""
    errors: list[str] = []

    def field(parse: Callable[[], list[Range]]) -> list[Range]:
        try:
            return parse()
        except SpecError as error:
            errors.append(str(error))
            return []

    second = field(lambda: make_ranges(cal.second, "Second", "0", 0, 59))
    minute = field(lambda: make_ranges(cal.minute, "Minute", "0", 0, 59))
    hour = field(lambda: make_ranges(cal.hour, "Hour", "0", 0, 23))
    day_of_week = field(lambda: make_ranges(cal.day_of_week, "DayOfWeek", "*", 0, 7))
    day_of_month = field(lambda: make_ranges(cal.day_of_month, "DayOfMonth", "*", 1, 31))
    month = field(lambda: make_ranges(cal.month, "Month", "*", 1, 12))
    year = field(lambda: make_ranges(cal.year, "Year", "*", MIN_YEAR, MAX_YEAR))
    if errors:
        raise SpecError(", ".join(errors))
    return StructuredCalendarSpec(
        second=second, minute=minute, hour=hour, day_of_month=day_of_month, month=month,
        year=year, day_of_week=day_of_week, comment=cal.comment,
    )  # fmt: skip


def parse_cron_string(
    text: str,
) -> tuple[StructuredCalendarSpec | None, IntervalSpec | None, str]:
    """A cron string as a calendar or an interval, and the time zone named by its prefix."""
    text = text.strip()
    tz_name = ""
    if text.startswith(("TZ=", "CRON_TZ=")):
        tz_part, space, text = text.partition(" ")
        if not space:
            raise SpecError("CronString has time zone but missing fields")
        tz_name = tz_part.partition("=")[2]
    text, _, comment = text.partition("#")
    text, comment = text.strip(), comment.strip()
    if text.startswith("@every"):
        return None, _parse_every(text), ""  # the reference drops the time zone of an @every
    fields = PREDEFINED.get(text, text).split()
    if not 5 <= len(fields) <= 7:
        raise SpecError("CronString does not have 5-7 fields")
    if len(fields) == 7:
        second, *fields = fields
    else:
        second = ""
    names = ("minute", "hour", "day_of_month", "month", "day_of_week", "year")
    cal = CalendarSpec(second=second, comment=comment, **dict(zip(names, fields, strict=False)))
    return calendar_to_structured(cal), None, tz_name


def _parse_every(text: str) -> IntervalSpec:
    """`@every <interval>[/<phase>]`, durations in Go's syntax plus `d` for days."""
    _, space, rest = text.partition(" ")
    if not space:
        raise SpecError("CronString does not have interval after @every")
    interval, _, phase = rest.partition("/")
    spec = IntervalSpec(interval=to_duration(parse_go_duration(interval)))
    if phase:
        spec.phase.CopyFrom(to_duration(parse_go_duration(phase)))
    return spec


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a duration in Go's syntax (`1h30m`, `1.5s`...), plus `d` for 24 hours,
    as the reference's timestamp.ParseDuration reads it, with Go's messages."""
    text = _DAYS.sub(lambda m: f"{24 * float(m.group()[:-1]):f}h", text)
    invalid = SpecError(f'time: invalid duration "{text}"')
    negative = text.startswith("-")
    rest = text[1:] if text.startswith(("-", "+")) else text
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    # Each component is digits, an optional fraction and a unit; the last match is empty.
    for component in _COMPONENT.finditer(rest):
        whole, fraction, unit = component.group(1), component.group(2) or "", component.group(3)
        if not component.group():
            break
        if not whole and not fraction:
            raise invalid
        if not unit:
            raise SpecError(f'time: missing unit in duration "{text}"')
        if unit not in _GO_DURATION_UNITS:
            raise SpecError(f'time: unknown unit "{unit}" in duration "{text}"')
        scale = _GO_DURATION_UNITS[unit]
        total += int(whole or "0") * scale + int(fraction or "0") * scale // 10 ** len(fraction)
    if total > 2**63 - (0 if negative else 1):
        raise invalid
    return -total if negative else total


def to_duration(nanos: int) -> Duration:
    """A proto Duration of `nanos` (seconds and nanos share the sign, as Go's durationpb.New)."""
    seconds, remainder = divmod(abs(nanos), 10**9)
    sign = -1 if nanos < 0 else 1
    return Duration(seconds=sign * seconds, nanos=sign * remainder)


def validate_structured_calendar(cal: StructuredCalendarSpec) -> None:
    errors: list[str] = []
    bounds = (
        ("Second", cal.second, 0, 59), ("Minute", cal.minute, 0, 59), ("Hour", cal.hour, 0, 23),
        ("DayOfMonth", cal.day_of_month, 1, 31), ("Month", cal.month, 1, 12),
        ("Year", cal.year, MIN_YEAR, MAX_YEAR), ("DayOfWeek", cal.day_of_week, 0, 6),
    )  # fmt: skip
    for name, ranges, low, high in bounds:
        for r in ranges:
            if not low <= r.start <= high:
                errors.append(f"{name} Start is not in range [{low}-{high}]")
            if r.end != 0 and (r.end < r.start or r.end > high):
                errors.append(f"{name} End is before Start or not in range [{low}-{high}]")
            if r.step < 0:
                errors.append(f"{name} has invalid Step")
    if len(cal.comment.encode()) > MAX_COMMENT_BYTES:
        errors.append("comment is too long")
    if errors:
        raise SpecError("invalid calendar spec: " + ", ".join(errors))


# --- Matching ------------------------------------------------------------------------------


def _in_range(r: Range, value: int) -> bool:
    # end < start means end = start and step 0 means 1 (a negative step, which only an
    # unvalidated exclude can have, is taken as 1 too).
    step = r.step if r.step > 0 else 1
    return r.start <= value <= max(r.end, r.start) and (value - r.start) % step == 0


class _Field:
    """The values of one calendar field (within its domain) that a list of ranges allows."""

    def __init__(self, ranges: Sequence[Range], low: int, high: int) -> None:
        self.allowed = tuple(v for v in range(low, high + 1) if any(_in_range(r, v) for r in ranges))
        self._members = frozenset(self.allowed)

    def __contains__(self, value: int) -> bool:
        return value in self._members

    def first_from(self, value: int, none: int) -> int:
        """The smallest allowed value >= `value`, or `none`."""
        index = bisect_left(self.allowed, value)
        return self.allowed[index] if index < len(self.allowed) else none


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 + ((0b1010110101010 >> month) & 1)


def go_date(tz: tzinfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """The instant (UTC) of a wall-clock time as Go's time.Date computes it: hours past 23 roll
    over to the next day; the offset is the one in force at the wall time read as UTC, corrected
    once. A skipped time lands in another hour; a repeated time resolves to its first occurrence
    west of UTC and to its second east of UTC."""
    wall = datetime(y, mo, d, tzinfo=UTC) + timedelta(hours=h, minutes=mi, seconds=s)
    guess = wall - _offset(wall, tz)
    return wall - _offset(guess, tz)


def _offset(instant: datetime, tz: tzinfo) -> timedelta:
    return instant.astimezone(tz).utcoffset() or NO_OFFSET


def _weekday(t: datetime) -> int:
    """Day of week counted as the reference does: 0 is Sunday."""
    return (t.weekday() + 1) % 7


class _Cursor:
    """The wall-clock fields being searched, and whether they name the second copy of a
    repeated (daylight saving) hour."""

    def __init__(self, local: datetime, dst: timedelta) -> None:
        self.y, self.mo, self.d = local.year, local.month, local.day
        self.h, self.mi, self.s = local.hour, local.minute, local.second
        self.dst = dst

    def carry(self, tz: tzinfo) -> None:
        """Normalize the fields after an increment."""
        if self.s >= 60:
            self.mi, self.s = self.mi + 1, 0
        if self.mi >= 60:
            before = go_date(tz, self.y, self.mo, self.d, self.h)
            self.h, self.mi = self.h + 1, 0
            after = go_date(tz, self.y, self.mo, self.d, self.h)
            if self.dst == NO_OFFSET and after - before > HOUR:
                # The next hour is two hours later: we passed a repeated hour, search it again.
                self.h, self.dst = self.h - 1, HOUR
            else:
                self.dst = NO_OFFSET
        if self.h >= 24:
            self.d, self.h = self.d + 1, 0
        if self.d > days_in_month(self.y, self.mo):
            self.mo, self.d = self.mo + 1, 1
        if self.mo > 12:
            self.y, self.mo = self.y + 1, 1


class CompiledCalendar:
    """A `StructuredCalendarSpec` interpreted in a time zone, matched with 1-second resolution."""

    def __init__(self, cal: StructuredCalendarSpec, tz: tzinfo) -> None:
        self.tz = tz
        self.years = list(cal.year)  # empty: every year
        self.second = _Field(cal.second, 0, 59)
        self.minute = _Field(cal.minute, 0, 59)
        self.hour = _Field(cal.hour, 0, 23)
        self.day_of_month = _Field(cal.day_of_month, 1, 31)
        self.month = _Field(cal.month, 1, 12)
        self.day_of_week = _Field(cal.day_of_week, 0, 6)

    def _year(self, year: int) -> bool:
        return not self.years or any(_in_range(r, year) for r in self.years)

    def matches(self, t: datetime) -> bool:
        local = t.astimezone(self.tz)
        return (
            self._year(local.year)
            and local.month in self.month
            and local.day in self.day_of_month
            and _weekday(local) in self.day_of_week
            and local.hour in self.hour
            and local.minute in self.minute
            and local.second in self.second
        )

    def next(self, after: datetime) -> datetime | None:
        """The first matching time (UTC) strictly after `after`, or None up to MAX_YEAR."""
        local = after.astimezone(self.tz)
        if local.year > MAX_YEAR:
            return None
        in_second_copy = (after - HOUR).astimezone(self.tz).hour == local.hour
        c = _Cursor(local, HOUR if in_second_copy else NO_OFFSET)
        c.s += 1
        while True:
            c.carry(self.tz)
            if c.y > MAX_YEAR:
                return None
            # From the year in: each step either settles its field or overflows into the
            # next larger one, and then the search starts over from the carry.
            if not (
                self._seek_year(c)
                and self._seek_month(c)
                and self._seek_day(c)
                and self._seek_hour(c)
                and self._seek_minute(c)
                and self._seek_second(c)
            ):
                continue
            found = go_date(self.tz, c.y, c.mo, c.d, c.h, c.mi, c.s)
            if found.astimezone(self.tz).hour != c.h:
                # A wall time skipped by a daylight saving change: never matches.
                c.h, c.mi, c.s = c.h + 1, 0, 0
                continue
            return found + c.dst

    def _seek_year(self, c: _Cursor) -> bool:
        if self._year(c.y):
            return True
        c.y, c.mo, c.d, c.h, c.mi, c.s, c.dst = c.y + 1, 1, 1, 0, 0, 0, NO_OFFSET
        return False

    def _seek_month(self, c: _Cursor) -> bool:
        if c.mo in self.month:
            return True
        c.mo, c.d, c.h, c.mi, c.s, c.dst = self.month.first_from(c.mo, 13), 1, 0, 0, 0, NO_OFFSET
        return c.mo <= 12

    def _seek_day(self, c: _Cursor) -> bool:
        while c.d not in self.day_of_month or (
            _weekday(go_date(self.tz, c.y, c.mo, c.d, c.h, c.mi, c.s).astimezone(self.tz))
            not in self.day_of_week
        ):
            c.d, c.h, c.mi, c.s, c.dst = c.d + 1, 0, 0, 0, NO_OFFSET
            if c.d > days_in_month(c.y, c.mo):
                return False
        return True

    def _seek_hour(self, c: _Cursor) -> bool:
        if c.h in self.hour:
            return True
        c.h, c.mi, c.s, c.dst = self.hour.first_from(c.h, 24), 0, 0, NO_OFFSET
        return c.h < 24

    def _seek_minute(self, c: _Cursor) -> bool:
        if c.mi in self.minute:
            return True
        c.mi, c.s = self.minute.first_from(c.mi, 60), 0
        return c.mi < 60

    def _seek_second(self, c: _Cursor) -> bool:
        c.s = self.second.first_from(c.s, 60)
        return c.s < 60
