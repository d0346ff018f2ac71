"""Schedule specs: canonical forms, matching times, jitter and validation.

"Verified" below means the expected value was checked against the reference server
(temporal CLI 1.9.1, server 1.32.0: CreateSchedule + DescribeSchedule + ListScheduleMatchingTimes);
"Go test" means the value comes from the reference's spec_test.go / calendar_test.go.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.schedule.v1 import (
    CalendarSpec,
    IntervalSpec,
    Range,
    ScheduleSpec,
    StructuredCalendarSpec,
)

from clepsydra.engine import schedule_spec
from clepsydra.engine.schedule_spec import (
    CompiledSpec,
    TooManyExclusions,
    compile_spec,
    matching_times,
)
from clepsydra.errors import InvalidArgument

# The reference's jitter seed is "<namespace id>-<schedule id>"; this is the dev server's
# namespace id when the jitter values below were verified.
REFERENCE_NAMESPACE_ID = "01a2412b-0ec8-710c-a651-39e0d5c9b48d"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def dur(**kwargs: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(**kwargs))
    return d


def stamp(t: datetime) -> Timestamp:
    s = Timestamp()
    s.FromDatetime(t)
    return s


def nominals(spec: ScheduleSpec | CompiledSpec, after: datetime, count: int) -> list[datetime | None]:
    """The next `count` nominal times (None once there are no more)."""
    compiled = spec if isinstance(spec, CompiledSpec) else compile_spec(spec)
    found: list[datetime | None] = []
    for _ in range(count):
        result = compiled.next_time(after)
        found.append(result and result.nominal)
        if result is None:
            break
        after = result.nominal
    return found


def structured(**fields: list[Range]) -> StructuredCalendarSpec:
    return StructuredCalendarSpec(**fields)


EVERY_DAY = {"day_of_month": [Range(start=1, end=31, step=1)], "month": [Range(start=1, end=12, step=1)]}
ANY_WEEKDAY = [Range(start=0, end=6, step=1)]


# --- Canonical form ------------------------------------------------------------------------


def test_a_cron_string_becomes_a_structured_calendar() -> None:
    # Verified (also the Go test's parse of the same string).
    canonical = compile_spec(ScheduleSpec(cron_string=["5,9 */2 * * *"])).canonical()
    assert list(canonical.cron_string) == []
    assert list(canonical.structured_calendar) == [
        structured(
            second=[Range(start=0, end=0, step=1)],
            minute=[Range(start=5, end=5, step=1), Range(start=9, end=9, step=1)],
            hour=[Range(start=0, end=23, step=2)],
            day_of_week=ANY_WEEKDAY,
            **EVERY_DAY,
        )
    ]


def test_a_calendar_spec_defaults_to_midnight_every_day_of_every_year() -> None:
    # Verified: second, minute and hour default to 0 (not to * as in cron), the rest to *,
    # and "every year" is an empty list.
    [cal] = compile_spec(ScheduleSpec(calendar=[CalendarSpec()])).canonical().structured_calendar
    assert cal == structured(
        second=[Range(step=1)],
        minute=[Range(step=1)],
        hour=[Range(step=1)],
        day_of_week=ANY_WEEKDAY,
        **EVERY_DAY,
    )
    assert list(cal.year) == []


def test_cron_time_zone_prefix_and_comment() -> None:
    # Verified, from the Go test's cron string.
    spec = ScheduleSpec(cron_string=["CRON_TZ=US/Pacific 55 55,57 5 2/2 * wed-thurs *  # explanation"])
    canonical = compile_spec(spec).canonical()
    assert canonical.timezone_name == "US/Pacific"
    [cal] = canonical.structured_calendar
    assert cal.comment == "explanation"
    assert list(cal.second) == [Range(start=55, end=55, step=1)]
    assert list(cal.day_of_month) == [Range(start=2, end=31, step=2)]
    assert list(cal.day_of_week) == [Range(start=3, end=4, step=1)]


def test_every_becomes_an_interval_with_phase() -> None:
    # Verified: "@every 5h/45m" describes as interval 18000s, phase 2700s; "d" is 24 hours.
    canonical = compile_spec(ScheduleSpec(cron_string=["@every 5h/45m", "@every 1.5d/3h"])).canonical()
    assert list(canonical.interval) == [
        IntervalSpec(interval=dur(hours=5), phase=dur(minutes=45)),
        IntervalSpec(interval=dur(hours=36), phase=dur(hours=3)),
    ]
    assert list(canonical.structured_calendar) == []


def test_predefined_cron_names() -> None:
    spec = ScheduleSpec(cron_string=["@weekly"])
    assert nominals(spec, utc(2024, 3, 1), 2) == [utc(2024, 3, 3), utc(2024, 3, 10)]  # Sundays
    spec = ScheduleSpec(cron_string=["@monthly"])
    assert nominals(spec, utc(2024, 3, 1), 2) == [utc(2024, 4, 1), utc(2024, 5, 1)]
    spec = ScheduleSpec(cron_string=["@hourly"])
    assert nominals(spec, utc(2024, 3, 1, 0, 30), 1) == [utc(2024, 3, 1, 1)]


def test_the_described_spec_compiles_to_itself() -> None:
    # Clients update a schedule with the spec they described: it must mean the same.
    spec = ScheduleSpec(
        cron_string=["CRON_TZ=Europe/Paris 0 9 * * mon-fri # weekdays"],
        calendar=[CalendarSpec(hour="*/6", day_of_week="sat,sun")],
        exclude_calendar=[CalendarSpec(month="aug", hour="*", minute="*", second="*")],
        interval=[IntervalSpec(interval=dur(hours=5), phase=dur(minutes=3))],
        jitter=dur(minutes=1),
    )
    once = compile_spec(spec)
    twice = compile_spec(once.canonical())
    assert twice.canonical() == once.canonical()
    assert nominals(twice, utc(2024, 7, 30), 12) == nominals(once, utc(2024, 7, 30), 12)


def test_an_empty_spec_stays_empty_and_never_matches() -> None:
    compiled = compile_spec(ScheduleSpec())
    assert compiled.canonical() == ScheduleSpec()
    assert compiled.next_time(utc(2024, 1, 1)) is None


def test_structured_calendars_get_explicit_ends_and_steps_but_keep_their_values() -> None:
    # Verified: DescribeSchedule fills end (= start) and step (= 1).
    spec = ScheduleSpec(
        structured_calendar=[structured(hour=[Range(start=3)], minute=[Range(end=59, step=15)])]
    )
    [cal] = compile_spec(spec).canonical().structured_calendar
    assert list(cal.hour) == [Range(start=3, end=3, step=1)]
    assert list(cal.minute) == [Range(start=0, end=59, step=15)]
    assert list(cal.second) == []  # an empty field matches nothing: this calendar never fires
    assert compile_spec(spec).next_time(utc(2024, 1, 1)) is None


@pytest.mark.parametrize(
    "day_of_week", ["0", "7", "sun", "*", "0-3", "5-7", "5-7/2", "6-7", "2-7/5", "0-7/7"]
)
def test_sunday_is_0_or_7(day_of_week: str) -> None:
    # Go test: each of these matches Sunday 2022-03-06.
    spec = ScheduleSpec(calendar=[CalendarSpec(day_of_week=day_of_week)])
    assert nominals(spec, utc(2022, 3, 5, 12), 1) == [utc(2022, 3, 6)]


def test_month_and_day_of_week_names() -> None:
    # Verified: at least 3 letters of a month, 2 of a day, any case. Day of month and day of
    # week must both match (no cron "or").
    spec = ScheduleSpec(cron_string=["0 0 13 jan-mar,Sept FRI"])
    assert nominals(spec, utc(2023, 1, 1), 3) == [utc(2023, 1, 13), utc(2024, 9, 13), utc(2026, 2, 13)]
    spec = ScheduleSpec(cron_string=["0 0 * * TUES-th"])
    assert nominals(spec, utc(2024, 3, 1), 3) == [utc(2024, 3, 5), utc(2024, 3, 6), utc(2024, 3, 7)]


# --- Matching times ------------------------------------------------------------------------


def test_ranges_with_steps() -> None:
    # Verified: seconds */20, minutes */30 at 1 a.m.; years 2024-2025.
    spec = ScheduleSpec(calendar=[CalendarSpec(second="*/20", minute="*/30", hour="1", year="2024-2025/1")])
    assert nominals(spec, utc(2024, 3, 1), 7) == [
        utc(2024, 3, 1, 1, 0, 0), utc(2024, 3, 1, 1, 0, 20), utc(2024, 3, 1, 1, 0, 40),
        utc(2024, 3, 1, 1, 30, 0), utc(2024, 3, 1, 1, 30, 20), utc(2024, 3, 1, 1, 30, 40),
        utc(2024, 3, 2, 1, 0, 0),
    ]  # fmt: skip
    spec = ScheduleSpec(structured_calendar=[structured(
        second=[Range()], minute=[Range(start=10, end=40, step=15)], hour=[Range(start=5)],
        day_of_week=[Range(start=1, end=5)], **EVERY_DAY,
    )])  # fmt: skip
    friday = utc(2024, 3, 1)
    assert nominals(spec, friday, 4) == [
        utc(2024, 3, 1, 5, 10),
        utc(2024, 3, 1, 5, 25),
        utc(2024, 3, 1, 5, 40),
        utc(2024, 3, 4, 5, 10),
    ]


def test_times_are_strictly_after_and_in_whole_seconds() -> None:
    compiled = compile_spec(ScheduleSpec(cron_string=["0 12 * * *"]))
    assert nominals(compiled, utc(2024, 3, 1, 12), 1) == [utc(2024, 3, 2, 12)]
    assert nominals(compiled, utc(2024, 3, 1, 11, 59, 59) + timedelta(microseconds=999999), 1) == [
        utc(2024, 3, 1, 12)
    ]


def test_short_months_and_leap_days() -> None:
    # Verified.
    assert nominals(ScheduleSpec(cron_string=["0 0 31 * *"]), utc(2024, 1, 31), 3) == [
        utc(2024, 3, 31), utc(2024, 5, 31), utc(2024, 7, 31)
    ]  # fmt: skip
    assert nominals(ScheduleSpec(cron_string=["0 0 29 feb *"]), utc(2024, 3, 1), 2) == [
        utc(2028, 2, 29), utc(2032, 2, 29)
    ]  # fmt: skip


def test_intervals_count_from_the_epoch_plus_phase() -> None:
    # Go test (TestSpecIntervalPhase).
    spec = ScheduleSpec(interval=[IntervalSpec(interval=dur(minutes=90), phase=dur(minutes=5, seconds=44))])
    assert nominals(spec, utc(2022, 3, 23, 12, 53, 2), 3) == [
        utc(2022, 3, 23, 13, 35, 44), utc(2022, 3, 23, 15, 5, 44), utc(2022, 3, 23, 16, 35, 44)
    ]  # fmt: skip


def test_the_union_of_calendars_and_intervals() -> None:
    # Go test (TestSpecMixedCalendarInterval).
    spec = ScheduleSpec(
        calendar=[CalendarSpec(hour="11,13", minute="55")],
        interval=[IntervalSpec(interval=dur(minutes=90), phase=dur(minutes=7))],
    )
    assert nominals(spec, utc(2022, 3, 23, 10), 6) == [
        utc(2022, 3, 23, 10, 37), utc(2022, 3, 23, 11, 55), utc(2022, 3, 23, 12, 7),
        utc(2022, 3, 23, 13, 37), utc(2022, 3, 23, 13, 55), utc(2022, 3, 23, 15, 7),
    ]  # fmt: skip


def test_no_time_after_the_year_2100() -> None:
    # Verified.
    spec = ScheduleSpec(cron_string=["0 0 1 1 * 2099-2100"])
    assert nominals(spec, utc(2098, 6, 1), 3) == [utc(2099, 1, 1), utc(2100, 1, 1), None]
    spec = ScheduleSpec(interval=[IntervalSpec(interval=dur(days=365))])
    assert nominals(spec, utc(2100, 6, 1), 2) == [utc(2100, 11, 30), None]


# --- Time zones and daylight saving time ---------------------------------------------------


def test_a_skipped_wall_time_does_not_match() -> None:
    # Go test: US/Pacific has no 2:33:33 on 2022-03-13.
    spec = ScheduleSpec(cron_string=["CRON_TZ=US/Pacific 33 33 2 * * * *"])
    assert nominals(spec, utc(2022, 3, 12), 2) == [utc(2022, 3, 12, 10, 33, 33), utc(2022, 3, 14, 9, 33, 33)]


def test_a_repeated_wall_time_matches_twice_west_of_utc() -> None:
    # Go test: 1:33:33 and 1:44:33 come twice on 2021-11-07 in US/Pacific.
    spec = ScheduleSpec(cron_string=["CRON_TZ=US/Pacific 33 33,44 1 * * * *"])
    assert nominals(spec, utc(2021, 11, 7, 7, 15, 15), 5) == [
        utc(2021, 11, 7, 8, 33, 33), utc(2021, 11, 7, 8, 44, 33),
        utc(2021, 11, 7, 9, 33, 33), utc(2021, 11, 7, 9, 44, 33),
        utc(2021, 11, 8, 9, 33, 33),
    ]  # fmt: skip


def test_hourly_times_through_both_copies_of_the_repeated_hour() -> None:
    # Verified: America/New_York, 2024-11-03, 1 a.m. comes twice.
    spec = ScheduleSpec(cron_string=["15,45 * * * *"], timezone_name="America/New_York")
    times = matching_times(compile_spec(spec), utc(2024, 11, 3, 4), utc(2024, 11, 3, 8))
    assert times == [utc(2024, 11, 3, 4, 15) + timedelta(minutes=30 * i) for i in range(8)]


def test_a_repeated_wall_time_matches_once_east_of_utc() -> None:
    # Verified: in Europe/Berlin 2:30 comes twice on 2024-10-27, and the reference (through
    # Go's time.Date) takes only the second; 2:30 does not exist on 2024-03-31.
    spec = ScheduleSpec(cron_string=["CRON_TZ=Europe/Berlin 30 2 * * *"])
    assert nominals(spec, utc(2024, 10, 26), 3) == [
        utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 1, 30), utc(2024, 10, 28, 1, 30)
    ]  # fmt: skip
    assert nominals(spec, utc(2024, 3, 30), 2) == [utc(2024, 3, 30, 1, 30), utc(2024, 4, 1, 0, 30)]


def test_time_zone_data_instead_of_a_name() -> None:
    # Verified: the same times as by name.
    tzif = Path("/usr/share/zoneinfo/Europe/Berlin")
    if not tzif.exists():
        pytest.skip("no system time zone database")
    spec = ScheduleSpec(cron_string=["30 2 * * *"], timezone_name="Berlin", timezone_data=tzif.read_bytes())
    assert nominals(spec, utc(2024, 3, 30), 2) == [utc(2024, 3, 30, 1, 30), utc(2024, 4, 1, 0, 30)]


# --- Start and end, excludes ---------------------------------------------------------------


def test_start_and_end_time_bound_the_times_inclusively() -> None:
    # Verified.
    spec = ScheduleSpec(
        interval=[IntervalSpec(interval=dur(hours=1))],
        start_time=stamp(utc(2024, 3, 1, 5)),
        end_time=stamp(utc(2024, 3, 1, 7)),
    )
    assert nominals(spec, utc(2024, 2, 1), 4) == [
        utc(2024, 3, 1, 5),
        utc(2024, 3, 1, 6),
        utc(2024, 3, 1, 7),
        None,
    ]


def test_a_start_time_within_a_second_still_lets_that_second_match() -> None:
    # Go test (TestSpecStartTimeMinusOneSecond), and verified: the search starts one second
    # before start_time.
    spec = ScheduleSpec(
        cron_string=["* * * * * * *"], start_time=stamp(datetime(2022, 3, 23, 12, 0, 0, 456000, tzinfo=UTC))
    )
    assert nominals(spec, utc(2022, 3, 23, 11), 1) == [utc(2022, 3, 23, 12)]


def test_an_end_before_the_start_is_accepted_and_matches_nothing() -> None:
    # Verified: the reference does not reject it.
    spec = ScheduleSpec(
        interval=[IntervalSpec(interval=dur(hours=1))],
        start_time=stamp(utc(2024, 3, 5)),
        end_time=stamp(utc(2024, 3, 1)),
    )
    assert compile_spec(spec).next_time(utc(2024, 1, 1)) is None


def test_excluded_times_are_skipped() -> None:
    # Go test (TestSpecExclude), jitter included.
    spec = ScheduleSpec(
        interval=[IntervalSpec(interval=dur(minutes=90))],
        exclude_calendar=[CalendarSpec(hour="12-14", minute="*", second="*")],
        jitter=dur(seconds=1),
    )
    times = matching_times(compile_spec(spec), utc(2022, 3, 23, 8), utc(2022, 3, 23, 17))
    assert times == [
        datetime(2022, 3, 23, 9, 0, 0, 235000, tzinfo=UTC),
        datetime(2022, 3, 23, 10, 30, 0, 139000, tzinfo=UTC),
        datetime(2022, 3, 23, 15, 0, 0, 89000, tzinfo=UTC),
        datetime(2022, 3, 23, 16, 30, 0, 687000, tzinfo=UTC),
    ]


def test_a_search_through_too_many_excluded_times_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reference gives up after two weeks of seconds; a smaller limit keeps the test short.
    monkeypatch.setattr(schedule_spec, "MAX_CANDIDATES", 1000)
    every_second = CalendarSpec(second="*", minute="*", hour="*")
    spec = ScheduleSpec(calendar=[every_second], exclude_calendar=[every_second])
    with pytest.raises(TooManyExclusions, match="too many exclusions"):
        compile_spec(spec).next_time(utc(2024, 3, 1))
    # Reaching the end time first is no error: there is simply no time.
    spec.end_time.CopyFrom(stamp(utc(2024, 3, 1, 0, 10)))
    assert compile_spec(spec).next_time(utc(2024, 3, 1)) is None


# --- Jitter --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "actual"),
    [
        ("", datetime(2022, 3, 24, 0, 35, 24, 276000, tzinfo=UTC)),
        ("seed-1", datetime(2022, 3, 24, 0, 6, 12, 519000, tzinfo=UTC)),
        ("seed-2", datetime(2022, 3, 24, 0, 39, 16, 922000, tzinfo=UTC)),
    ],
)
def test_jitter_is_the_reference_hash_of_time_and_seed(seed: str, actual: datetime) -> None:
    # Go test (TestSpecJitterSeed).
    compiled = compile_spec(
        ScheduleSpec(interval=[IntervalSpec(interval=dur(hours=24))], jitter=dur(hours=1))
    )
    result = compiled.next_time(utc(2022, 3, 23, 11), seed)
    assert result is not None
    assert (result.nominal, result.actual) == (utc(2022, 3, 24), actual)
    assert compiled.next_time(utc(2022, 3, 23, 11), seed) == result  # deterministic


def test_jitter_with_the_reference_seed_and_end_time() -> None:
    # Verified with schedule id "jitter-check": times are jittered, the start is exclusive, and
    # the 15:00 time, jittered past the end, is left out.
    spec = ScheduleSpec(
        interval=[IntervalSpec(interval=dur(hours=1))],
        end_time=stamp(utc(2024, 3, 1, 15)),
        jitter=dur(minutes=59),
    )
    seed = f"{REFERENCE_NAMESPACE_ID}-jitter-check"
    assert matching_times(compile_spec(spec), utc(2024, 3, 1, 12), utc(2024, 3, 1, 15), seed) == [
        datetime(2024, 3, 1, 13, 0, 5, 513000, tzinfo=UTC),
        datetime(2024, 3, 1, 14, 53, 33, 252000, tzinfo=UTC),
    ]


def test_jitter_stays_below_the_jitter_and_the_next_time() -> None:
    # A 24-hour jitter on a 90-minute interval is cut to 90 minutes (Go test values first).
    compiled = compile_spec(
        ScheduleSpec(interval=[IntervalSpec(interval=dur(minutes=90))], jitter=dur(hours=24))
    )
    first = compiled.next_time(utc(2022, 3, 23, 11))
    assert first is not None and first.actual == datetime(2022, 3, 23, 12, 14, 36, 524000, tzinfo=UTC)
    after, offsets = utc(2024, 1, 1), []
    for _ in range(200):
        result = compiled.next_time(after, "some-schedule")
        assert result is not None
        offsets.append(result.actual - result.nominal)
        after = result.nominal
    assert all(timedelta(0) <= o < timedelta(minutes=90) and o.microseconds % 1000 == 0 for o in offsets)
    assert len(set(offsets)) > 150  # spread out, not constant
    # A jitter shorter than the gap bounds it.
    compiled = compile_spec(
        ScheduleSpec(interval=[IntervalSpec(interval=dur(hours=1))], jitter=dur(seconds=2))
    )
    results = [compiled.next_time(utc(2024, 1, 1) + timedelta(hours=h), "s") for h in range(100)]
    assert all(r is not None and timedelta(0) <= r.actual - r.nominal < timedelta(seconds=2) for r in results)


# --- ListScheduleMatchingTimes -------------------------------------------------------------


def test_matching_times_are_capped_at_1000() -> None:
    # Verified: a minute interval over a day lists the first 1000.
    times = matching_times(
        compile_spec(ScheduleSpec(interval=[IntervalSpec(interval=dur(minutes=1))])),
        utc(2024, 3, 1),
        utc(2024, 3, 2),
    )
    assert len(times) == 1000
    assert (times[0], times[-1]) == (utc(2024, 3, 1, 0, 1), utc(2024, 3, 1, 16, 40))


def test_matching_times_include_the_end() -> None:
    compiled = compile_spec(ScheduleSpec(cron_string=["0 * * * *"]))
    assert matching_times(compiled, utc(2024, 3, 1, 1), utc(2024, 3, 1, 3)) == [
        utc(2024, 3, 1, 2),
        utc(2024, 3, 1, 3),
    ]


# --- Validation ----------------------------------------------------------------------------


def calendar(**fields: list[Range]) -> ScheduleSpec:
    return ScheduleSpec(structured_calendar=[StructuredCalendarSpec(**fields)])


def interval(every: Duration, phase: Duration | None = None) -> ScheduleSpec:
    return ScheduleSpec(interval=[IntervalSpec(interval=every, phase=phase)])


# All messages verified, but the last (Go's text adds a no-break space and a random space).
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ScheduleSpec(cron_string=["0 1 2 3 4 1999"]), "Year is not in range [2000-2100]"),
        (ScheduleSpec(cron_string=["* * * *"]), "CronString does not have 5-7 fields"),
        (ScheduleSpec(cron_string=["TZ=Europe/London"]), "CronString has time zone but missing fields"),
        (ScheduleSpec(cron_string=["@every"]), "CronString does not have interval after @every"),
        (ScheduleSpec(cron_string=["@every 5x"]), 'time: unknown unit "x" in duration "5x"'),
        (ScheduleSpec(cron_string=["@every 00"]), 'time: missing unit in duration "00"'),
        (ScheduleSpec(cron_string=["*/x * * * *"]), 'strconv.Atoi: parsing "x": invalid syntax'),
        (ScheduleSpec(cron_string=["*/0 * * * *"]), "Minute has invalid Step"),
        (ScheduleSpec(cron_string=["1-5-7 * * * *"]), "Minute has too many dashes"),
        (ScheduleSpec(cron_string=["3/5/7 * * * *"]), "Minute has too many slashes"),
        (ScheduleSpec(cron_string=["5/ * * * *"]), "Minute missing step value"),
        (
            ScheduleSpec(cron_string=["0 0 * * fri-tues"]),
            "DayOfWeek End is before Start or not in range [0-7]",
        ),
        (ScheduleSpec(cron_string=["0 0 * ma *"]), "Month is not in range [1-12]"),
        (
            ScheduleSpec(cron_string=["60 24 32 13 8 2101"]),
            "Minute is not in range [0-59], Hour is not in range [0-23], "
            "DayOfWeek is not in range [0-7], DayOfMonth is not in range [1-31], "
            "Month is not in range [1-12], Year is not in range [2000-2100]",
        ),
        (
            ScheduleSpec(cron_string=["CRON_TZ=Europe/London 23 5,7 * * *", "23 5,7 * * *"]),
            "conflicting timezone names",
        ),
        (
            ScheduleSpec(cron_string=["CRON_TZ=Europe/London 0 5 * * *"], timezone_name="America/New_York"),
            "conflicting timezone names",
        ),
        (
            calendar(
                hour=[Range(start=24)], second=[Range(start=3, end=1)], day_of_week=[Range(start=1, step=-1)]
            ),
            "invalid calendar spec: Second End is before Start or not in range [0-59], "
            "Hour Start is not in range [0-23], DayOfWeek has invalid Step",
        ),
        (
            calendar(day_of_week=[Range(start=7)]),
            "invalid calendar spec: DayOfWeek Start is not in range [0-6]",
        ),
        (
            ScheduleSpec(calendar=[CalendarSpec(comment="é" * 101)]),  # 202 bytes
            "invalid calendar spec: comment is too long",
        ),
        (interval(dur(hours=-1)), "interval is too small"),
        (interval(dur(milliseconds=500)), "interval is too small"),
        (ScheduleSpec(interval=[IntervalSpec()]), "interval is too small"),
        (interval(dur(hours=1), dur(hours=1)), "phase cannot be greater than Interval"),
        (interval(dur(hours=1), dur(hours=-1)), "phase is negative"),
        (ScheduleSpec(timezone_name="Mars/Olympus"), "unknown time zone Mars/Olympus"),
        (ScheduleSpec(timezone_name="../etc/passwd"), "time: invalid location name"),
        (ScheduleSpec(timezone_name="America"), "is a directory"),
        (ScheduleSpec(timezone_name="X", timezone_data=b"garbage"), "malformed time zone information"),
        (
            interval(Duration(seconds=5, nanos=-3)),
            "interval is not a valid duration: proto: duration (seconds:5 nanos:-3) "
            "has seconds and nanos with different signs",
        ),
    ],
)
def test_invalid_specs_are_rejected_with_the_reference_message(spec: ScheduleSpec, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        compile_spec(spec)
    assert raised.value.message == f"Invalid schedule spec: {message}"
