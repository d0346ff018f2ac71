"""Activities: scheduled → started → completed | failed | canceled | timed out, with retries.

Failed attempts leave no trace in history: the attempt, its last failure and its
heartbeat live in mutable state, and a single ActivityTaskStarted event (carrying
the final attempt) is written just before the event that closes the activity.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from temporalio.api.command.v1 import (
    RequestCancelActivityTaskCommandAttributes,
    ScheduleActivityTaskCommandAttributes,
)
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, RetryState, TaskQueueKind, TimeoutType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure, TimeoutFailureInfo
from temporalio.api.history.v1 import (
    ActivityTaskCanceledEventAttributes,
    ActivityTaskCancelRequestedEventAttributes,
    ActivityTaskCompletedEventAttributes,
    ActivityTaskFailedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    ActivityTaskTimedOutEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue

from clepsydra.engine import codec, limits, retry, versioning
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo, ExecutionState
from clepsydra.engine.tasks import QueueKind, QueueTask, TimerKind, TimerTask
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import WORKFLOW_COMPLETED, InvalidArgument, NotFound

BAD_SCHEDULE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
BAD_CANCEL = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES
SCHEDULE_TO_START = TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
START_TO_CLOSE = TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
SCHEDULE_TO_CLOSE = TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
HEARTBEAT = TimeoutType.TIMEOUT_TYPE_HEARTBEAT
NORMAL_QUEUE = TaskQueueKind.TASK_QUEUE_KIND_NORMAL
_TIMEOUT_NAMES = {
    SCHEDULE_TO_START: "ScheduleToStart",
    START_TO_CLOSE: "StartToClose",
    SCHEDULE_TO_CLOSE: "ScheduleToClose",
    HEARTBEAT: "Heartbeat",
}
_ZERO = timedelta(0)


def schedule(m: Mutation, completed_event_id: int, command: ScheduleActivityTaskCommandAttributes) -> None:
    s = m.state
    if not command.activity_id:
        raise CommandError(BAD_SCHEDULE, "ActivityId is not set on command.")
    if not command.activity_type.name:
        raise CommandError(BAD_SCHEDULE, "ActivityType is not set on command.")
    if s.activity_by_id(command.activity_id) is not None:
        raise CommandError(BAD_SCHEDULE, f"Activity with ID {command.activity_id} is already in progress.")
    limits.check_pending(
        len(s.activities),
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
        "activities",
    )
    limits.check_command_blob(
        limits.payloads_size(command.input), BAD_SCHEDULE, "ScheduleActivityTaskCommandAttributes.Input"
    )
    attributes = ActivityTaskScheduledEventAttributes(
        activity_id=command.activity_id,
        activity_type=command.activity_type,
        task_queue=command.task_queue
        if command.task_queue.name
        else TaskQueue(name=s.task_queue, kind=NORMAL_QUEUE),
        workflow_task_completed_event_id=completed_event_id,
        use_workflow_build_id=command.use_workflow_build_id,
        priority=command.priority,
    )
    for name in ("header", "input"):  # unset stays unset, as on the reference
        if command.HasField(name):
            getattr(attributes, name).CopyFrom(getattr(command, name))
    _normalize_timeouts(s, command, attributes)
    try:
        attributes.retry_policy.CopyFrom(
            retry.with_defaults(command.retry_policy if command.HasField("retry_policy") else None)
        )
    except InvalidArgument as e:
        raise CommandError(BAD_SCHEDULE, e.message) from None
    event = m.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, attributes)
    info = ActivityInfo(
        scheduled_event_id=event.event_id,
        attributes=attributes,
        scheduled_time=m.now,
        current_attempt_scheduled_time=m.now,
    )
    s.activities[info.scheduled_event_id] = info
    schedule_to_close = attributes.schedule_to_close_timeout.ToTimedelta()
    if schedule_to_close > _ZERO:
        add_timeout(m, info, SCHEDULE_TO_CLOSE, m.now + schedule_to_close)
    dispatch(m, info)
    if command.request_eager_execution and attributes.task_queue.name == s.task_queue:
        m.eager_activities.append(info.scheduled_event_id)


def start_eagerly(m: Mutation, identity: str) -> list[ActivityInfo]:
    """Start, within the workflow task completion, the activities its worker asked to run itself:
    they skip the task queue (and a poll, and a commit of their own). Scheduling dispatched them
    as usual, so that an activity nobody starts here still reaches its queue."""
    started: list[ActivityInfo] = []
    for scheduled_event_id in m.eager_activities:
        info = m.state.activities.get(scheduled_event_id) if m.state.running else None
        if info is None or info.started:  # canceled by a later command, or the workflow closed
            continue
        queued = [
            t
            for t in m.queue_tasks
            if t.kind == QueueKind.ACTIVITY and t.scheduled_event_id == info.scheduled_event_id
        ]
        m.queue_tasks = [t for t in m.queue_tasks if t not in queued]
        m.timer_tasks = [
            t
            for t in m.timer_tasks
            if not (
                t.kind == TimerKind.ACTIVITY_TIMEOUT
                and t.event_id == info.scheduled_event_id
                and t.timeout_type == SCHEDULE_TO_START
            )
        ]
        started.append(record_started(m, queued[0], identity, m.new_id()))
    m.eager_activities = []
    return started


def _normalize_timeouts(
    s: ExecutionState,
    command: ScheduleActivityTaskCommandAttributes,
    attributes: ActivityTaskScheduledEventAttributes,
) -> None:
    """Deduce unset timeouts from the others and cap them by the run timeout, as the
    reference server does, so that the worker sees the effective values."""
    for name in TIMEOUTS:
        getattr(attributes, name).CopyFrom(getattr(command, name))
    if any(getattr(command, name).ToTimedelta() < _ZERO for name in TIMEOUTS):
        raise CommandError(BAD_SCHEDULE, "A timeout on ScheduleActivityTaskCommand is negative.")
    if not deduce_timeouts(attributes, s.start.workflow_run_timeout.ToTimedelta()):
        raise CommandError(
            BAD_SCHEDULE,
            "A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.",
        )


TIMEOUTS = (
    "schedule_to_close_timeout",
    "schedule_to_start_timeout",
    "start_to_close_timeout",
    "heartbeat_timeout",
)


def deduce_timeouts(a: ActivityTaskScheduledEventAttributes, run_timeout: timedelta = _ZERO) -> bool:
    """Fill in unset timeouts from the others and cap them by the run timeout (if any), as
    the reference does; False if neither schedule-to-close nor start-to-close is set."""
    schedule_to_close, schedule_to_start, start_to_close, heartbeat = (
        getattr(a, name).ToTimedelta() for name in TIMEOUTS
    )
    if schedule_to_close > _ZERO:
        if run_timeout > _ZERO:
            schedule_to_close = min(schedule_to_close, run_timeout)
        schedule_to_start = (
            min(schedule_to_start, schedule_to_close) if schedule_to_start else schedule_to_close
        )
        start_to_close = min(start_to_close, schedule_to_close) if start_to_close else schedule_to_close
    elif start_to_close > _ZERO:
        schedule_to_close = run_timeout
        if not schedule_to_start:
            schedule_to_start = run_timeout
    else:
        return False
    heartbeat = min(heartbeat, start_to_close)
    deduced = (schedule_to_close, schedule_to_start, start_to_close, heartbeat)
    for name, value in zip(TIMEOUTS, deduced, strict=True):
        getattr(a, name).FromTimedelta(value)
    return True


def redispatch(m: Mutation, info: ActivityInfo) -> None:
    """Dispatch an activity again from the start (its run was rebuilt, e.g. by a reset)."""
    schedule_to_close = info.attributes.schedule_to_close_timeout.ToTimedelta()
    if schedule_to_close > _ZERO:
        add_timeout(m, info, SCHEDULE_TO_CLOSE, m.now + schedule_to_close)
    dispatch(m, info)


def dispatch(m: Mutation, info: ActivityInfo) -> None:
    """Put the current attempt on its task queue, with its schedule-to-start deadline."""
    # Its own priority, or else its workflow's, field by field.
    own, workflows = info.attributes.priority, m.state.start.priority
    priority = own.priority_key or workflows.priority_key
    m.add_queue_task(
        QueueTask(
            QueueKind.ACTIVITY,
            info.attributes.task_queue.name,
            info.scheduled_event_id,
            info.attempt,
            info.stamp,
            priority,
            versioning.pinned(m.state),
            fairness_key=own.fairness_key or workflows.fairness_key,
            fairness_weight=own.fairness_weight or workflows.fairness_weight,
        )
    )
    schedule_to_start = info.attributes.schedule_to_start_timeout.ToTimedelta()
    schedule_to_close = info.attributes.schedule_to_close_timeout.ToTimedelta()
    # Armed unless the schedule-to-close deadline comes first: at the same instant the
    # reference fires schedule-to-start first (see `on_timer`).
    if schedule_to_start > _ZERO and (
        schedule_to_close == _ZERO or m.now + schedule_to_start <= info.scheduled_time + schedule_to_close
    ):
        add_timeout(m, info, SCHEDULE_TO_START, m.now + schedule_to_start)


def add_timeout(
    m: Mutation, info: ActivityInfo, timeout_type: TimeoutType.ValueType, fire_time: datetime
) -> None:
    attempt = 0 if timeout_type == SCHEDULE_TO_CLOSE else info.attempt
    m.add_timer(
        TimerTask(
            TimerKind.ACTIVITY_TIMEOUT, fire_time, info.scheduled_event_id, attempt, timeout_type, info.stamp
        )
    )


def pending(s: ExecutionState, scheduled_event_id: int, attempt: int) -> ActivityInfo:
    """The started attempt that a task token names, or NOT_FOUND if it is no longer current."""
    if not s.running:
        raise NotFound(WORKFLOW_COMPLETED)
    info = s.activities.get(scheduled_event_id)
    if info is None or info.attempt != attempt or not info.started:
        raise NotFound("invalid activityID or activity already timed out or invoking workflow is completed")
    return info


def record_started(m: Mutation, queued: QueueTask, identity: str, request_id: str) -> ActivityInfo:
    info = m.state.activities.get(queued.scheduled_event_id) if m.state.running else None
    if (
        info is None
        or (info.attempt, info.stamp) != (queued.attempt, queued.stamp)
        or info.started
        or info.pause is not None
    ):
        raise NotFound("Activity task not found.")
    info.started_time = m.now
    info.identity = identity
    info.last_worker_identity = identity
    info.request_id = request_id
    m.touch()
    arm_attempt_timeouts(m, info)
    return info


def arm_attempt_timeouts(m: Mutation, info: ActivityInfo) -> None:
    """The start-to-close and heartbeat deadlines of the running attempt."""
    assert info.started_time is not None
    start_to_close = info.attributes.start_to_close_timeout.ToTimedelta()
    if start_to_close > _ZERO:
        add_timeout(m, info, START_TO_CLOSE, info.started_time + start_to_close)
    heartbeat = info.attributes.heartbeat_timeout.ToTimedelta()
    if heartbeat > _ZERO:
        last = max(info.last_heartbeat_time or info.started_time, info.started_time)
        add_timeout(m, info, HEARTBEAT, max(last + heartbeat, m.now))


class HeartbeatAnswer(NamedTuple):
    """What a running attempt is told when it heartbeats."""

    cancel_requested: bool
    paused: bool
    reset: bool


def heartbeat(m: Mutation, info: ActivityInfo, details: Payloads | None) -> HeartbeatAnswer:
    """Record progress; whether the attempt should stop, and why."""
    info.last_heartbeat_time = m.now
    if details is not None:
        info.heartbeat_details = details
    m.touch()
    return HeartbeatAnswer(info.cancel_requested, info.pause is not None, info.reset_requested)


def complete(m: Mutation, info: ActivityInfo, result: Payloads | None, identity: str) -> None:
    started_event_id = _write_started(m, info)
    attributes = ActivityTaskCompletedEventAttributes(
        scheduled_event_id=info.scheduled_event_id,
        started_event_id=started_event_id,
        identity=identity,
    )
    if result is not None:
        attributes.result.CopyFrom(result)
    m.add_external_event(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, attributes)
    _remove(m, info)


def fail(
    m: Mutation,
    info: ActivityInfo,
    failure: Failure,
    identity: str,
    last_heartbeat_details: Payloads | None,
) -> None:
    if last_heartbeat_details is not None:
        info.heartbeat_details = last_heartbeat_details

    def close(retry_state: RetryState.ValueType) -> None:
        started_event_id = _write_started(m, info)
        m.add_external_event(
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            ActivityTaskFailedEventAttributes(
                failure=failure,
                scheduled_event_id=info.scheduled_event_id,
                started_event_id=started_event_id,
                identity=identity,
                retry_state=retry_state,
            ),
        )
        _remove(m, info)

    _retry_or_close(m, info, failure, close)


def canceled(m: Mutation, info: ActivityInfo, details: Payloads | None, identity: str) -> None:
    started_event_id = _write_started(m, info)
    _add_canceled(m, info, started_event_id, details, identity)


def request_cancel(
    m: Mutation, completed_event_id: int, command: RequestCancelActivityTaskCommandAttributes
) -> None:
    info = m.state.activities.get(command.scheduled_event_id)
    if info is None or info.cancel_requested:
        raise CommandError(
            BAD_CANCEL,
            f"Unable to cancel activity: no pending activity with scheduled event id "
            f"{command.scheduled_event_id}.",
        )
    cancel(m, info, completed_event_id)


def cancel(m: Mutation, info: ActivityInfo, completed_event_id: int = 0) -> None:
    """Ask the activity to stop: a running attempt hears so through its heartbeats; one that
    is not running is canceled at once (and the workflow must hear so)."""
    event = m.add_event(
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        ActivityTaskCancelRequestedEventAttributes(
            scheduled_event_id=info.scheduled_event_id,
            workflow_task_completed_event_id=completed_event_id,
        ),
    )
    info.cancel_requested_event_id = event.event_id
    if not info.started:
        _add_canceled(m, info, 0, None, "")
        m.needs_workflow_task = True


def timer_subject(state: ExecutionState, task: TimerTask) -> ActivityInfo | None:
    """The activity a timeout or retry timer is for, if the timer still concerns it: the
    schedule-to-close timeout spans every attempt, the other timers one attempt each."""
    info = state.activities.get(task.event_id) if state.running else None
    if (
        info is None
        or info.pause is not None  # a paused activity neither retries nor times out
        or info.stamp != task.stamp
        or (info.attempt != task.attempt and task.timeout_type != SCHEDULE_TO_CLOSE)
    ):
        return None
    return info


def on_timer(m: Mutation, task: TimerTask) -> None:
    info = timer_subject(m.state, task)
    if info is None:
        return
    if task.kind == TimerKind.ACTIVITY_RETRY:
        if not info.started:
            dispatch(m, info)
        return
    timeout_type = task.timeout_type
    if timeout_type == SCHEDULE_TO_CLOSE:
        if _schedule_to_start_due(info, task.fire_time):
            timeout_type = SCHEDULE_TO_START
        _time_out(m, info, timeout_type, retryable=False)
        return
    if timeout_type == SCHEDULE_TO_START:
        if not info.started:
            _time_out(m, info, timeout_type, retryable=False)
        return
    if not info.started:
        return
    if timeout_type == HEARTBEAT:
        assert info.started_time is not None
        last = max(info.last_heartbeat_time or info.started_time, info.started_time)
        deadline = last + info.attributes.heartbeat_timeout.ToTimedelta()
        if deadline > m.now:
            add_timeout(m, info, HEARTBEAT, deadline)
            return
    _time_out(m, info, timeout_type, retryable=True)


def _schedule_to_start_due(info: ActivityInfo, at: datetime) -> bool:
    """Whether a never-started attempt's schedule-to-start deadline is due by `at`: the
    reference orders timeouts due at the same time by type, schedule-to-start before
    schedule-to-close (so an activity with only a schedule-to-close timeout, which the
    schedule-to-start one defaults to, times out as never started)."""
    schedule_to_start = info.attributes.schedule_to_start_timeout.ToTimedelta()
    if info.started or schedule_to_start <= _ZERO:
        return False
    return (info.current_attempt_scheduled_time or info.scheduled_time) + schedule_to_start <= at


def _time_out(m: Mutation, info: ActivityInfo, timeout_type: TimeoutType.ValueType, retryable: bool) -> None:
    failure = _timeout_failure(timeout_type, f"activity {_TIMEOUT_NAMES[timeout_type]} timeout")

    def close(retry_state: RetryState.ValueType) -> None:
        final = failure
        if retry_state == RetryState.RETRY_STATE_TIMEOUT and timeout_type != SCHEDULE_TO_START:
            # A retry was due but would end past the schedule-to-close deadline.
            final = _timeout_failure(
                SCHEDULE_TO_CLOSE,
                "Not enough time to schedule next retry before activity ScheduleToClose timeout,"
                " giving up retrying"
                if timeout_type != SCHEDULE_TO_CLOSE
                else failure.message,
            )
        if info.heartbeat_details is not None:
            final.timeout_failure_info.last_heartbeat_details.CopyFrom(info.heartbeat_details)
        started_event_id = _write_started(m, info) if info.started else 0
        m.add_external_event(
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            ActivityTaskTimedOutEventAttributes(
                failure=final,
                scheduled_event_id=info.scheduled_event_id,
                started_event_id=started_event_id,
                retry_state=retry_state,
            ),
        )
        _remove(m, info)

    if retryable:
        _retry_or_close(m, info, failure, close)
    else:
        close(RetryState.RETRY_STATE_TIMEOUT)


def _timeout_failure(timeout_type: TimeoutType.ValueType, message: str) -> Failure:
    return Failure(
        message=message, source="Server", timeout_failure_info=TimeoutFailureInfo(timeout_type=timeout_type)
    )


def _retry_or_close(
    m: Mutation,
    info: ActivityInfo,
    failure: Failure,
    close: Callable[[RetryState.ValueType], None],
) -> None:
    schedule_to_close = info.attributes.schedule_to_close_timeout.ToTimedelta()
    expiration = info.scheduled_time + schedule_to_close if schedule_to_close > _ZERO else None
    backoff, retry_state = retry.next_backoff(
        info.attributes.retry_policy, info.attempt, failure, m.now, expiration
    )
    if info.cancel_requested or retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE:
        close(retry_state)
        return
    if info.pause is None and backoff is None:
        close(retry_state)
        return
    # The next attempt: at once into backoff, or, while paused, parked until unpaused.
    info.attempt += 1
    info.started_time = None
    info.request_id = ""
    info.identity = ""
    info.last_failure = failure
    info.last_attempt_complete_time = m.now
    info.reset_requested = False
    if info.reset_heartbeat:
        info.reset_heartbeat = False
        info.heartbeat_details = None
        info.last_heartbeat_time = None
    m.touch()
    if info.pause is not None:
        info.stamp += 1  # the attempt's timers are moot
        info.current_attempt_scheduled_time = m.now
        return
    assert backoff is not None
    schedule_retry(m, info, m.now + backoff)


def schedule_retry(m: Mutation, info: ActivityInfo, at: datetime) -> None:
    """Dispatch the current attempt at `at` (now or later)."""
    info.current_attempt_scheduled_time = at
    m.touch()
    if at <= m.now:
        dispatch(m, info)
        return
    m.add_timer(
        TimerTask(TimerKind.ACTIVITY_RETRY, at, info.scheduled_event_id, info.attempt, stamp=info.stamp)
    )


def _write_started(m: Mutation, info: ActivityInfo) -> int:
    attributes = ActivityTaskStartedEventAttributes(
        scheduled_event_id=info.scheduled_event_id,
        identity=info.identity,
        request_id=info.request_id,
        attempt=info.attempt,
    )
    if info.last_failure is not None:
        attributes.last_failure.CopyFrom(info.last_failure)
    event = m.add_external_event(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, attributes)
    if info.started_time is not None:  # written at the close, dated when the attempt started
        event.event_time.CopyFrom(codec.timestamp(info.started_time))
    return event.event_id


def _add_canceled(
    m: Mutation, info: ActivityInfo, started_event_id: int, details: Payloads | None, identity: str
) -> None:
    attributes = ActivityTaskCanceledEventAttributes(
        latest_cancel_requested_event_id=info.cancel_requested_event_id,
        scheduled_event_id=info.scheduled_event_id,
        started_event_id=started_event_id,
        identity=identity,
    )
    if details is not None:
        attributes.details.CopyFrom(details)
    m.add_external_event(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED, attributes)
    _remove(m, info)


def _remove(m: Mutation, info: ActivityInfo) -> None:
    del m.state.activities[info.scheduled_event_id]
    m.touch()
    if m.state.standalone is not None:  # its execution closes with it, and shows it as it was
        m.state.standalone.final = info
