"""Overlap policies decide which buffered starts of a schedule start now (the pure part)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import ScheduleOverlapPolicy

from clepsydra.engine.schedule_buffer import process_buffer
from clepsydra.engine.schedule_state import BufferedStart

P = ScheduleOverlapPolicy
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def starts(count: int, policy: int = P.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED) -> list[BufferedStart]:
    return [
        BufferedStart(T0 + timedelta(minutes=i), T0 + timedelta(minutes=i), policy, manual=False)
        for i in range(count)
    ]


def as_schedule(policy: int) -> Callable[[int], int]:
    """The schedule's own policy, for starts that name none."""
    return lambda given: given or policy


@pytest.mark.parametrize(
    ("policy", "running", "starts_now", "kept", "skipped", "stop"),
    [
        (P.SCHEDULE_OVERLAP_POLICY_SKIP, False, 1, 0, 2, ""),
        (P.SCHEDULE_OVERLAP_POLICY_SKIP, True, 0, 0, 3, ""),
        (P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, True, 0, 1, 2, ""),
        (P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, False, 1, 1, 1, ""),
        (P.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, True, 0, 3, 0, ""),
        (P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER, True, 0, 3, 0, "cancel"),
        (P.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER, True, 0, 3, 0, "terminate"),
        (P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, True, 3, 0, 0, ""),
    ],
)
def test_three_starts_under_each_policy(
    policy: int, running: bool, starts_now: int, kept: int, skipped: int, stop: str
) -> None:
    out = process_buffer(starts(3), running, as_schedule(policy))
    started = [*out.overlapping, *([out.next_start] if out.next_start else [])]
    assert (len(started), len(out.buffer), out.skipped) == (starts_now, kept, skipped)
    assert (out.cancel, out.terminate) == (stop == "cancel", stop == "terminate")


def test_cancel_other_with_nothing_running_starts_the_latest() -> None:
    buffered = starts(3)
    out = process_buffer(buffered, False, as_schedule(P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER))
    assert out.next_start is buffered[-1]
    assert out.buffer == [] and not out.cancel


def test_a_start_that_names_its_policy_keeps_it() -> None:
    """A backfill or trigger may name its own policy; the schedule's applies to the rest."""
    buffered = [*starts(1, P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL), *starts(2)]
    out = process_buffer(buffered, True, as_schedule(P.SCHEDULE_OVERLAP_POLICY_SKIP))
    assert out.overlapping == buffered[:1]
    assert out.skipped == 2
