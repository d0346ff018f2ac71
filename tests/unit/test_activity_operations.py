"""Operators' changes to pending activities, on the pure engine: what each change makes stale
and what it arms again."""

from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.failure.v1 import Failure

from clepsydra.engine import activity, activity_operations
from clepsydra.engine.fire import fire
from clepsydra.engine.tasks import QueueKind, QueueTask, TimerKind
from clepsydra.errors import FailedPrecondition, NotFound
from tests.unit.engine_helpers import Run
from tests.unit.test_activities import scheduled

SECOND = timedelta(seconds=1)
ZERO = timedelta(0)


def started(run: Run, attempt: int = 1) -> None:
    info = run.state.activities[5]
    run.apply(
        activity.record_started, QueueTask(QueueKind.ACTIVITY, "tq", 5, attempt, info.stamp), "worker", "r"
    )


def failed_once(run: Run) -> None:
    started(run)
    run.apply(activity.fail, run.state.activities[5], Failure(message="down"), "worker", None)


def test_a_paused_activity_ignores_its_retry_timer_and_is_dispatched_on_unpause() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    failed_once(run)
    assert run.last is not None
    (retry_timer,) = run.last.timer_tasks
    info = run.state.activities[5]
    run.apply(activity_operations.pause, info, "ops", "outage", "r1")
    run.advance(1)
    run.apply(fire, retry_timer)
    assert run.last.queue_tasks == [] and not run.last.has_writes
    run.apply(activity_operations.unpause, info, False, False, ZERO)
    (queued,) = run.last.queue_tasks
    assert (queued.attempt, queued.stamp) == (2, info.stamp)
    started(run, attempt=2)
    assert info.started


def test_a_task_queued_before_a_pause_cannot_start() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    info = run.state.activities[5]
    old = QueueTask(QueueKind.ACTIVITY, "tq", 5, 1, info.stamp)
    run.apply(activity_operations.pause, info, "", "", "")
    with pytest.raises(NotFound):
        run.apply(activity.record_started, old, "worker", "r")
    run.apply(activity_operations.unpause, info, False, False, ZERO)
    with pytest.raises(NotFound):  # stale: the unpause queued a task of its own
        run.apply(activity.record_started, old, "worker", "r")


def test_pausing_twice_is_refused_unless_it_is_the_same_request() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    info = run.state.activities[5]
    run.apply(activity_operations.pause, info, "", "", "r1")
    run.apply(activity_operations.pause, info, "", "", "r1")
    with pytest.raises(FailedPrecondition, match="already paused"):
        run.apply(activity_operations.pause, info, "", "", "r2")


def test_a_running_attempt_is_told_it_is_paused_and_its_failure_waits_for_the_unpause() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    started(run)
    info = run.state.activities[5]
    run.apply(activity_operations.pause, info, "", "", "")
    assert run.apply(activity.heartbeat, info, None) == activity.HeartbeatAnswer(False, True, False)
    run.apply(activity.fail, info, Failure(message="stopped"), "worker", None)
    assert (info.attempt, info.started) == (2, False)
    assert run.last is not None and not run.last.timer_tasks and not run.last.queue_tasks


def test_a_paused_running_attempt_does_not_time_out() -> None:
    run = scheduled(start_to_close_timeout=2 * SECOND)
    started(run)
    assert run.last is not None
    (timeout,) = [t for t in run.last.timer_tasks if t.timeout_type == activity.START_TO_CLOSE]
    info = run.state.activities[5]
    run.apply(activity_operations.pause, info, "", "", "")
    run.advance(3)
    run.apply(fire, timeout)
    assert 5 in run.state.activities
    run.apply(activity_operations.unpause, info, False, False, ZERO)
    (rearmed,) = [t for t in run.last.timer_tasks if t.timeout_type == activity.START_TO_CLOSE]
    assert rearmed.fire_time <= run.now  # its deadline passed while paused: it times out now
    run.apply(fire, rearmed)
    assert info.attempt == 2  # timed out, and retried


def test_reset_of_a_waiting_activity_dispatches_attempt_one_now() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    failed_once(run)
    info = run.state.activities[5]
    run.apply(activity_operations.reset, info, False, False, False, ZERO)
    assert run.last is not None
    (queued,) = run.last.queue_tasks
    assert (queued.attempt, info.attempt) == (1, 1)


def test_reset_of_a_running_attempt_is_heard_through_its_heartbeat() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    started(run)
    info = run.state.activities[5]
    run.apply(activity_operations.reset, info, True, False, False, ZERO)
    assert run.apply(activity.heartbeat, info, None).reset
    run.apply(activity.fail, info, Failure(message="reset"), "worker", None)
    assert (info.attempt, info.reset_requested, info.heartbeat_details) == (2, False, None)


def test_new_options_apply_from_now_and_can_be_restored() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    failed_once(run)
    info = run.state.activities[5]
    options = ActivityOptions(start_to_close_timeout=Duration(seconds=3))
    options.retry_policy.initial_interval.FromSeconds(5)
    updated = run.apply(
        activity_operations.update_options,
        info,
        options,
        {"start_to_close_timeout", "retry_policy.initial_interval"},
    )
    assert updated.start_to_close_timeout.seconds == 3
    assert updated.retry_policy.initial_interval.seconds == 5
    assert run.last is not None
    (retry,) = [t for t in run.last.timer_tasks if t.kind == TimerKind.ACTIVITY_RETRY]
    assert retry.fire_time == info.last_attempt_complete_time + 5 * SECOND  # the new backoff
    restored = run.apply(activity_operations.restore_options, info)
    assert restored.start_to_close_timeout.seconds == 10
    assert info.original_options is None
