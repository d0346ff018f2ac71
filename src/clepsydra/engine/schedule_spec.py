"""Schedule specs: when a schedule takes its actions.

Theory of operation, following the reference server (service/worker/scheduler/spec.go):

- `compile_spec` canonicalizes a `ScheduleSpec` as CreateSchedule does: `calendar`,
  `exclude_calendar` and `cron_string` become `structured_calendar`,
  `exclude_structured_calendar` and `interval` (a cron string's `CRON_TZ=` becomes
  `timezone_name`), then everything is validated, with the reference's messages.
- The spec's times are the union of its calendars (each searched forward field by field, in the
  spec's time zone, see schedule_calendar) and its intervals (every `epoch + n * interval +
  phase`, in whole seconds), minus the times an exclude calendar matches, within
  [`start_time`, `end_time`] and no later than the year 2100.
- Each nominal time gets a jitter in [0, min(`jitter`, gap to the next nominal time)), in whole
  milliseconds, taken from a hash of the time and a seed: the reference's farmhash Fingerprint32
  of Go's binary encoding of the time followed by the seed, so that with the reference's seed
  (`<namespace id>-<schedule id>`) the jittered times are the reference's too.
"""

from __future__ import annotations

import io
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from google.protobuf.duration_pb2 import Duration
from temporalio.api.schedule.v1 import IntervalSpec, ScheduleSpec, StructuredCalendarSpec

from clepsydra.engine.schedule_calendar import (
    MAX_YEAR,
    CompiledCalendar,
    SpecError,
    calendar_to_structured,
    parse_cron_string,
    validate_structured_calendar,
)
from clepsydra.errors import InvalidArgument

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# ListScheduleMatchingTimes answers at most this many times.
MAX_MATCHING_TIMES = 1000
# How many excluded times a search passes over before it gives up: the reference's default
# (scheduler.specMaxIterations), two weeks of seconds.
MAX_CANDIDATES = 2 * 7 * 24 * 60 * 60
_END_OF_TIME = int((datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())
_GO_DURATION_MAX_SECONDS = 315_576_000_000  # protobuf's limit: 10000 years
_INT64 = 2**63


class TooManyExclusions(InvalidArgument):
    """The search for the next time passed over MAX_CANDIDATES excluded times. The reference's
    scheduler then takes no further action until the spec changes; ListScheduleMatchingTimes
    fails with this error."""

    def __init__(self) -> None:
        super().__init__(
            "the schedule calendar specification has too many exclusions. Please modify the specification."
        )


@dataclass(frozen=True)
class NextTime:
    nominal: datetime  # the time the spec matches
    actual: datetime  # nominal plus jitter: when the action is taken


@dataclass(frozen=True, eq=False)
class CompiledSpec:
    spec: ScheduleSpec  # canonical, as the reference stores it
    tz: tzinfo
    calendars: tuple[CompiledCalendar, ...]
    excludes: tuple[CompiledCalendar, ...]
    intervals: tuple[tuple[int, int], ...]  # (interval, phase) in whole seconds
    start: datetime  # the epoch when the spec has no start time, as in the reference
    end_us: int | None  # end time, microseconds since the epoch
    jitter_ns: int

    def canonical(self) -> ScheduleSpec:
        """The spec as DescribeSchedule shows it: ranges with explicit ends and steps."""
        spec = ScheduleSpec()
        spec.CopyFrom(self.spec)
        for cal in [*spec.structured_calendar, *spec.exclude_structured_calendar]:
            _fill_range_defaults(cal)
        return spec

    def next_time(self, after: datetime, seed: str = "") -> NextTime | None:
        """The first time strictly after `after` (with the jitter `seed` gives it), or None.
        Raises TooManyExclusions."""
        # A time at start_time itself must count, so search from just before it.
        after = max(after, self.start - SECOND)
        for _ in range(MAX_CANDIDATES):
            found = self._raw_next(after)
            if found is None or self._past_end(found):
                return None
            nominal = _from_unix(found)
            if not self._excluded(nominal):
                break
            after = nominal
        else:
            raise TooManyExclusions()
        # The jitter never pushes a time past the next one (exclusions notwithstanding).
        limit_ns = self.jitter_ns
        following = self._raw_next(nominal)
        if following is not None:
            limit_ns = min(limit_ns, (following - found) * 10**9)
        return NextTime(nominal, nominal + _jitter(seed, found, limit_ns))

    def _raw_next(self, after: datetime) -> int | None:
        """The first time of any calendar or interval after `after`, in Unix seconds."""
        times = [_unix(t) for cal in self.calendars if (t := cal.next(after)) is not None]
        seconds = _unix(after)
        for interval, phase in self.intervals:
            times.append((_go_div(seconds - phase, interval) + 1) * interval + phase)
        return min(times, default=None)

    def _past_end(self, unix: int) -> bool:
        return (self.end_us is not None and unix * 10**6 > self.end_us) or unix >= _END_OF_TIME

    def _excluded(self, t: datetime) -> bool:
        return any(cal.matches(t) for cal in self.excludes)


def compile_spec(spec: ScheduleSpec) -> CompiledSpec:
    """Canonicalize and validate `spec`; raises InvalidArgument with the reference's message."""
    try:
        _check_durations(spec)
        canonical = _canonicalize(spec)
        tz = _load_time_zone(canonical.timezone_name, canonical.timezone_data)
    except SpecError as error:
        raise InvalidArgument(f"Invalid schedule spec: {error}") from None
    return CompiledSpec(
        spec=canonical,
        tz=tz,
        calendars=tuple(CompiledCalendar(cal, tz) for cal in canonical.structured_calendar),
        excludes=tuple(CompiledCalendar(cal, tz) for cal in canonical.exclude_structured_calendar),
        intervals=tuple(
            (_go_nanos(i.interval) // 10**9, _go_nanos(i.phase) // 10**9) for i in canonical.interval
        ),
        start=canonical.start_time.ToDatetime(UTC) if canonical.HasField("start_time") else EPOCH,
        end_us=_unix_us(canonical.end_time.ToDatetime(UTC)) if canonical.HasField("end_time") else None,
        jitter_ns=_go_nanos(canonical.jitter),
    )


def matching_times(compiled: CompiledSpec, start: datetime, end: datetime, seed: str = "") -> list[datetime]:
    """ListScheduleMatchingTimes: the actual (jittered) times after `start` up to `end`
    inclusive, at most MAX_MATCHING_TIMES of them."""
    times: list[datetime] = []
    while len(times) < MAX_MATCHING_TIMES:
        found = compiled.next_time(start, seed)
        if found is None or found.actual > end:
            break
        times.append(found.actual)
        start = found.actual
    return times


# --- Canonical form ------------------------------------------------------------------------


def _canonicalize(spec: ScheduleSpec) -> ScheduleSpec:
    result = ScheduleSpec()
    result.CopyFrom(spec)
    result.structured_calendar.extend(calendar_to_structured(cal) for cal in spec.calendar)
    result.exclude_structured_calendar.extend(calendar_to_structured(cal) for cal in spec.exclude_calendar)
    del result.calendar[:], result.exclude_calendar[:], result.cron_string[:]
    cron_tz: str | None = None
    for text in spec.cron_string:
        structured, interval, tz = parse_cron_string(text)
        if cron_tz is not None and tz != cron_tz:
            # All cron strings must agree on the time zone, whether they name one or not.
            raise SpecError("conflicting timezone names")
        cron_tz = tz
        if structured is not None:
            result.structured_calendar.append(structured)
        if interval is not None:
            result.interval.append(interval)
    if cron_tz:
        if result.timezone_name not in ("", cron_tz) or result.timezone_data:
            raise SpecError("conflicting timezone names")
        result.timezone_name = cron_tz
    for cal in result.structured_calendar:
        validate_structured_calendar(cal)
    for interval in result.interval:
        _validate_interval(interval)
    return result


def _validate_interval(spec: IntervalSpec) -> None:
    interval, phase = _go_nanos(spec.interval), _go_nanos(spec.phase)
    if interval < 10**9:
        raise SpecError("interval is too small")
    if phase < 0:
        raise SpecError("phase is negative")
    if phase >= interval:
        raise SpecError("phase cannot be greater than Interval")


def _check_durations(spec: ScheduleSpec) -> None:
    """The frontend's check that interval durations are valid protobuf durations."""
    for interval in spec.interval:
        for name, d in (("interval", interval.interval), ("phase", interval.phase)):
            problem = _duration_problem(d)
            if problem:
                text = f"seconds:{d.seconds} nanos:{d.nanos}"
                raise SpecError(f"{name} is not a valid duration: proto: duration ({text}) {problem}")


def _duration_problem(d: Duration) -> str:
    if d.seconds < -_GO_DURATION_MAX_SECONDS:
        return "exceeds -10000 years"
    if d.seconds > _GO_DURATION_MAX_SECONDS:
        return "exceeds +10000 years"
    if not -(10**9) < d.nanos < 10**9:
        return "has out-of-range nanos"
    if (d.seconds > 0 > d.nanos) or (d.seconds < 0 < d.nanos):
        return "has seconds and nanos with different signs"
    return ""


def _fill_range_defaults(cal: StructuredCalendarSpec) -> None:
    for ranges in (cal.second, cal.minute, cal.hour, cal.day_of_month, cal.month, cal.year, cal.day_of_week):
        for r in ranges:
            r.end = max(r.end, r.start)
            r.step = r.step or 1


def _load_time_zone(name: str, data: bytes) -> tzinfo:
    """The zone as Go's time.LoadLocation / LoadLocationFromTZData would load it."""
    if data:
        try:
            return zoneinfo.ZoneInfo.from_file(io.BytesIO(data), key=name)
        except ValueError:
            raise SpecError("malformed time zone information") from None
    # "Local" is the server's own zone in the reference; this server's is UTC.
    if name in ("", "UTC", "Local"):
        return UTC
    if ".." in name or name.startswith(("/", "\\")):
        raise SpecError("time: invalid location name")
    # The reference reads the name as a path under the zone directory: "a//b" and "./a" work.
    key = "/".join(part for part in name.split("/") if part not in ("", "."))
    try:
        return zoneinfo.ZoneInfo(key)
    except IsADirectoryError:
        raise SpecError("is a directory") from None
    except ValueError:  # a file that is not a zone, such as zone.tab
        raise SpecError("malformed time zone information") from None
    except (zoneinfo.ZoneInfoNotFoundError, OSError):
        raise SpecError(f"unknown time zone {name}") from None


# --- Time arithmetic -----------------------------------------------------------------------


def _go_nanos(d: Duration) -> int:
    """A Duration as Go's AsDuration reads it: nanoseconds, saturated to 64 bits."""
    return max(-_INT64, min(_INT64 - 1, d.seconds * 10**9 + d.nanos))


def _go_div(a: int, b: int) -> int:
    """Go's integer division, which truncates toward zero (matters before the epoch)."""
    quotient = abs(a) // b
    return quotient if a >= 0 else -quotient


def _unix(t: datetime) -> int:
    """Whole seconds since the epoch, rounded down as Go's Time.Unix does."""
    return (t - EPOCH) // SECOND


def _unix_us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def _from_unix(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


# --- Jitter --------------------------------------------------------------------------------

_M32 = 0xFFFFFFFF
_C1, _C2 = 0xCC9E2D51, 0x1B873593
_GO_SECONDS_TO_EPOCH = 62_135_596_800  # from January 1st of year 1, Go's zero time


def _jitter(seed: str, nominal: int, limit_ns: int) -> timedelta:
    """The reference's addJitter: the hash scaled to [0, limit) in whole milliseconds."""
    limit_ms = min(max(limit_ns, 0) // 10**6, _M32)
    return timedelta(milliseconds=(_fingerprint32(_go_time_binary(nominal) + seed.encode()) * limit_ms) >> 32)


def _go_time_binary(unix: int) -> bytes:
    """Go's Time.MarshalBinary of a whole-second UTC time: version 1, seconds since year 1,
    nanoseconds, offset -1 meaning UTC."""
    return b"\x01" + (unix + _GO_SECONDS_TO_EPOCH).to_bytes(8, "big") + bytes(4) + b"\xff\xff"


def _rotate(value: int, shift: int) -> int:
    """Rotate a 32-bit value right."""
    return ((value >> shift) | (value << (32 - shift))) & _M32


def _scramble(word: int) -> int:
    return _rotate(word * _C1 & _M32, 17) * _C2 & _M32


def _combine(h: int, scrambled: int) -> int:
    return (_rotate(h ^ scrambled, 19) * 5 + 0xE6546B64) & _M32


def _mur(a: int, h: int) -> int:
    return _combine(h, _scramble(a))


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = h * 0x85EBCA6B & _M32
    h ^= h >> 13
    h = h * 0xC2B2AE35 & _M32
    return h ^ (h >> 16)


def _fingerprint32(data: bytes) -> int:
    """farmhash Fingerprint32 (go-farm's Hash32) for inputs of 13 bytes or more, which the
    15 bytes of a time always make."""

    def word(offset: int) -> int:
        return int.from_bytes(data[offset : offset + 4], "little")

    n = len(data)
    if n <= 24:
        a, b, c, d, e, f = word((n >> 1) - 4), word(4), word(n - 8), word(n >> 1), word(0), word(n - 4)
        h = (d * _C1 + n) & _M32
        a = (_rotate(a, 12) + f) & _M32
        h = (_mur(c, h) + a) & _M32
        a = (_rotate(a, 3) + c) & _M32
        h = (_mur(e, h) + a) & _M32
        a = (_rotate((a + f) & _M32, 12) + d) & _M32
        h = (_mur(b, h) + a) & _M32
        return _fmix(h)
    h, g = n, _C1 * n & _M32
    f = g
    h = _combine(_combine(h, _scramble(word(n - 4))), _scramble(word(n - 16)))
    g = _combine(_combine(g, _scramble(word(n - 8))), _scramble(word(n - 12)))
    f = (_rotate((f + _scramble(word(n - 20))) & _M32, 19) + 113) & _M32
    for offset in range(0, (n - 1) // 20 * 20, 20):
        a, b, c, d, e = (word(offset + 4 * i) for i in range(5))
        h = (_mur(d, (h + a) & _M32) + e) & _M32
        g = (_mur(c, (g + b) & _M32) + a) & _M32
        f = (_mur((b + e * _C1) & _M32, (f + c) & _M32) + d) & _M32
        f = (f + g) & _M32
        g = (g + f) & _M32
    g = _rotate(_rotate(g, 11) * _C1 & _M32, 17) * _C1 & _M32
    f = _rotate(_rotate(f, 11) * _C1 & _M32, 17) * _C1 & _M32
    h = _rotate(_combine_plain(h, g), 17) * _C1 & _M32
    h = _rotate(_combine_plain(h, f), 17) * _C1 & _M32
    return h


def _combine_plain(h: int, v: int) -> int:
    return (_rotate((h + v) & _M32, 19) * 5 + 0xE6546B64) & _M32
