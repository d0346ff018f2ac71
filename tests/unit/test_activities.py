from datetime import timedelta

import pytest
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure

from clepsydra.engine import activity
from clepsydra.engine.fire import fire
from clepsydra.engine.tasks import QueueKind, QueueTask, TimerKind
from clepsydra.engine.workflow_task import CommandError
from tests.unit.engine_helpers import Run, schedule_activity

SECOND = timedelta(seconds=1)


def scheduled(**timeouts: timedelta) -> Run:
    run = Run(**{k: v for k, v in timeouts.items() if k.startswith("workflow_")})
    run.start_workflow_task()
    run.complete_workflow_task(
        schedule_activity(**{k: v for k, v in timeouts.items() if not k.startswith("workflow_")})
    )
    return run


def test_timeouts_are_deduced_and_capped_by_the_run_timeout() -> None:
    run = scheduled(schedule_to_close_timeout=60 * SECOND, workflow_run_timeout=30 * SECOND)
    (event,) = [e for e in run.history if e.HasField("activity_task_scheduled_event_attributes")]
    a = event.activity_task_scheduled_event_attributes
    assert a.schedule_to_close_timeout.ToTimedelta() == 30 * SECOND
    assert a.schedule_to_start_timeout.ToTimedelta() == 30 * SECOND
    assert a.start_to_close_timeout.ToTimedelta() == 30 * SECOND
    assert a.retry_policy.initial_interval.ToTimedelta() == SECOND
    assert a.retry_policy.backoff_coefficient == 2.0
    assert a.retry_policy.maximum_interval.ToTimedelta() == 100 * SECOND


def test_an_activity_without_close_timeouts_fails_the_workflow_task() -> None:
    run = Run()
    run.start_workflow_task()
    with pytest.raises(CommandError, match="StartToClose or ScheduleToCloseTimeout"):
        run.complete_workflow_task(schedule_activity())


def test_failed_attempts_leave_no_events_until_the_activity_closes() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    run.apply(activity.record_started, QueueTask(QueueKind.ACTIVITY, "tq", 5, 1), "worker", "r")
    failure = Failure(message="boom", application_failure_info=ApplicationFailureInfo(type="E"))
    info = run.state.activities[5]
    before = len(run.history)
    run.apply(activity.fail, info, failure, "worker", None)
    assert len(run.history) == before
    assert info.attempt == 2 and info.last_failure == failure
    assert run.last is not None
    (retry_timer,) = run.last.timer_tasks
    assert retry_timer.kind == TimerKind.ACTIVITY_RETRY
    assert retry_timer.fire_time == run.now + SECOND

    run.advance(1)
    run.apply(fire, retry_timer)
    assert [(t.kind, t.attempt) for t in run.last.queue_tasks] == [(QueueKind.ACTIVITY, 2)]
    run.apply(activity.record_started, QueueTask(QueueKind.ACTIVITY, "tq", 5, 2), "worker", "r2")
    run.apply(activity.complete, run.state.activities[5], None, "worker")
    assert run.types()[-3:] == ["ACTIVITY_TASK_STARTED", "ACTIVITY_TASK_COMPLETED", "WORKFLOW_TASK_SCHEDULED"]
    started = run.history[-3].activity_task_started_event_attributes
    assert started.attempt == 2 and started.last_failure.message == "boom"
    assert (
        run.history[-2].activity_task_completed_event_attributes.started_event_id == run.history[-3].event_id
    )


def test_a_non_retryable_failure_closes_the_activity_at_once() -> None:
    run = scheduled(start_to_close_timeout=10 * SECOND)
    run.apply(activity.record_started, QueueTask(QueueKind.ACTIVITY, "tq", 5, 1), "worker", "r")
    failure = Failure(message="no", application_failure_info=ApplicationFailureInfo(non_retryable=True))
    run.apply(activity.fail, run.state.activities[5], failure, "worker", None)
    assert run.types()[-3:] == ["ACTIVITY_TASK_STARTED", "ACTIVITY_TASK_FAILED", "WORKFLOW_TASK_SCHEDULED"]
    assert not run.state.activities


def test_heartbeats_push_the_heartbeat_deadline_back() -> None:
    run = scheduled(start_to_close_timeout=60 * SECOND, heartbeat_timeout=2 * SECOND)
    run.apply(activity.record_started, QueueTask(QueueKind.ACTIVITY, "tq", 5, 1), "worker", "r")
    assert run.last is not None
    heartbeat_timer = next(t for t in run.last.timer_tasks if t.timeout_type == activity.HEARTBEAT)
    run.advance(1.5)
    run.apply(activity.heartbeat, run.state.activities[5], None)
    run.advance(0.5)
    run.apply(fire, heartbeat_timer)  # due, but a heartbeat came since: re-armed, not timed out
    assert 5 in run.state.activities
    (rearmed,) = run.last.timer_tasks
    assert rearmed.fire_time == run.now + 1.5 * SECOND


def test_more_than_2000_pending_activities_fail_the_workflow_task() -> None:
    run = Run()
    run.start_workflow_task()
    commands = [schedule_activity(str(i), start_to_close_timeout=SECOND) for i in range(2001)]
    with pytest.raises(CommandError, match="pending activities exceeds the limit"):
        run.complete_workflow_task(*commands)
