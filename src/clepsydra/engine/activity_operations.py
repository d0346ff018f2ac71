"""What an operator does to a workflow's pending activities: pause, unpause, reset and change
their options. None of it writes an event: the activity's mutable state changes, and its
dispatch generation (`ActivityInfo.stamp`) moves on so that tasks and timers armed before
are ignored when they come due; what still applies is armed again."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import RetryPolicy
from temporalio.api.history.v1 import ActivityTaskScheduledEventAttributes

from clepsydra.engine import activity, retry
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo, ActivityPause, ExecutionState
from clepsydra.errors import WORKFLOW_COMPLETED, FailedPrecondition, InvalidArgument, NotFound

ACTIVITY_NOT_FOUND = (
    "Can't find pending activity with such ID. Invalid activityID or activity already completed"
)
_ZERO = timedelta(0)


def targets(
    s: ExecutionState, activity_id: str = "", activity_type: str = "", every: bool = False
) -> list[ActivityInfo]:
    """The pending activities a request names: by id, by type or all; NOT_FOUND if none."""
    if not s.running:
        raise NotFound(WORKFLOW_COMPLETED)
    if every:
        found = list(s.activities.values())
    elif activity_type:
        found = [a for a in s.activities.values() if a.attributes.activity_type.name == activity_type]
    else:
        one = s.activity_by_id(activity_id) if activity_id else None
        found = [one] if one is not None else []
    if not found:
        raise NotFound(ACTIVITY_NOT_FOUND)
    return found


def pause(m: Mutation, info: ActivityInfo, identity: str, reason: str, request_id: str) -> None:
    """Stop dispatching and timing out the activity. A running attempt goes on (its
    heartbeats tell it it is paused); if it fails, the next attempt waits for the unpause."""
    if info.pause is not None:
        if info.pause.request_id == request_id:
            return
        raise FailedPrecondition("activity is already paused")
    info.pause = ActivityPause(m.now, identity, reason, request_id)
    if not info.started:
        info.stamp += 1  # its queued task or retry timer is moot
    m.touch()


def unpause(
    m: Mutation, info: ActivityInfo, reset_attempts: bool, reset_heartbeat: bool, delay: timedelta
) -> None:
    """Dispatch the activity again (after `delay`, if it is waiting for an attempt)."""
    if info.pause is None:
        return
    info.pause = None
    if reset_attempts:
        info.attempt = 1
    if reset_heartbeat:
        _drop_heartbeat(info)
    _rearm(m, info, m.now + delay)


def reset(
    m: Mutation,
    info: ActivityInfo,
    reset_heartbeat: bool,
    keep_paused: bool,
    restore_options: bool,
    delay: timedelta,
) -> None:
    """Back to attempt 1. A running attempt is told through its heartbeats; otherwise attempt
    1 is dispatched after `delay`, unless the activity stays paused."""
    info.attempt = 1
    if info.started:
        info.reset_requested = True
        info.reset_heartbeat = reset_heartbeat
    elif reset_heartbeat:
        _drop_heartbeat(info)
    if restore_options and info.original_options is not None:
        info.attributes = info.original_options
        info.original_options = None
    if not keep_paused:
        info.pause = None
    _rearm(m, info, m.now + delay)


def update_options(
    m: Mutation, info: ActivityInfo, options: ActivityOptions, paths: set[str]
) -> ActivityOptions:
    """Change the activity's timeouts, retry policy, task queue or priority (those `paths`
    name); the new values apply from now on. Returns the options in effect."""
    merged = _merge(options_of(info), options, paths)
    if not merged.task_queue.name:
        raise InvalidArgument("TaskQueue is not set on request.")
    merged.retry_policy.CopyFrom(retry.with_defaults(merged.retry_policy))
    attributes = ActivityTaskScheduledEventAttributes()
    attributes.CopyFrom(info.attributes)
    attributes.task_queue.name = merged.task_queue.name
    attributes.priority.CopyFrom(merged.priority)
    attributes.retry_policy.CopyFrom(merged.retry_policy)
    for name in activity.TIMEOUTS:
        getattr(attributes, name).CopyFrom(getattr(merged, name))
    _normalize_timeouts(attributes)
    if info.original_options is None:
        info.original_options = info.attributes
    info.attributes = attributes
    _rearm(m, info, _next_attempt_time(m, info))
    return options_of(info)


def restore_options(m: Mutation, info: ActivityInfo) -> ActivityOptions:
    """Back to the options the activity was scheduled with."""
    if info.original_options is not None:
        info.attributes = info.original_options
        info.original_options = None
        _rearm(m, info, _next_attempt_time(m, info))
    return options_of(info)


def options_of(info: ActivityInfo) -> ActivityOptions:
    a = info.attributes
    options = ActivityOptions(
        schedule_to_close_timeout=a.schedule_to_close_timeout,
        schedule_to_start_timeout=a.schedule_to_start_timeout,
        start_to_close_timeout=a.start_to_close_timeout,
        heartbeat_timeout=a.heartbeat_timeout,
        retry_policy=RetryPolicy(
            initial_interval=a.retry_policy.initial_interval,
            backoff_coefficient=a.retry_policy.backoff_coefficient,
            maximum_interval=a.retry_policy.maximum_interval,
            maximum_attempts=a.retry_policy.maximum_attempts,
        ),
        priority=a.priority,
    )
    options.task_queue.name = a.task_queue.name
    options.task_queue.kind = a.task_queue.kind
    return options


# Field mask paths, in either spelling, and the option they name.
_PATHS = {
    **{name: name for name in (*activity.TIMEOUTS, "task_queue", "priority", "retry_policy")},
    "scheduleToCloseTimeout": "schedule_to_close_timeout",
    "scheduleToStartTimeout": "schedule_to_start_timeout",
    "startToCloseTimeout": "start_to_close_timeout",
    "heartbeatTimeout": "heartbeat_timeout",
    "taskQueue": "task_queue",
    "taskQueue.name": "task_queue",
    "task_queue.name": "task_queue",
    "retryPolicy": "retry_policy",
}
_RETRY_FIELDS = ("initial_interval", "backoff_coefficient", "maximum_interval", "maximum_attempts")
_RETRY_PATHS = {
    **{f"retry_policy.{f}": f for f in _RETRY_FIELDS},
    "retryPolicy.initialInterval": "initial_interval",
    "retryPolicy.backoffCoefficient": "backoff_coefficient",
    "retryPolicy.maximumInterval": "maximum_interval",
    "retryPolicy.maximumAttempts": "maximum_attempts",
}


def _merge(into: ActivityOptions, source: ActivityOptions, paths: set[str]) -> ActivityOptions:
    merged = ActivityOptions()
    merged.CopyFrom(into)
    for path in paths:
        if path in _RETRY_PATHS:
            name = _RETRY_PATHS[path]
            if name in ("backoff_coefficient", "maximum_attempts"):
                setattr(merged.retry_policy, name, getattr(source.retry_policy, name))
            else:
                getattr(merged.retry_policy, name).CopyFrom(getattr(source.retry_policy, name))
        elif path in _PATHS:
            name = _PATHS[path]
            merged.ClearField(name)  # type: ignore[arg-type]
            if source.HasField(name):  # type: ignore[arg-type]
                getattr(merged, name).CopyFrom(getattr(source, name))
        else:
            raise InvalidArgument(f"invalid field mask path: {path}")
    return merged


def _normalize_timeouts(a: ActivityTaskScheduledEventAttributes) -> None:
    if any(getattr(a, name).ToTimedelta() < _ZERO for name in activity.TIMEOUTS):
        raise InvalidArgument("A timeout on ActivityOptions is negative.")
    if not activity.deduce_timeouts(a):
        raise InvalidArgument("A valid StartToClose or ScheduleToCloseTimeout is not set on ActivityOptions.")


def _next_attempt_time(m: Mutation, info: ActivityInfo) -> datetime:
    """When the attempt waiting for its backoff is due under the (new) retry policy."""
    if info.started or info.attempt <= 1 or info.last_attempt_complete_time is None:
        return m.now
    policy = info.attributes.retry_policy
    backoff = policy.initial_interval.ToTimedelta() * (policy.backoff_coefficient ** (info.attempt - 2))
    maximum = policy.maximum_interval.ToTimedelta()
    if maximum > _ZERO:
        backoff = min(backoff, maximum)
    return info.last_attempt_complete_time + backoff


def _drop_heartbeat(info: ActivityInfo) -> None:
    info.heartbeat_details = None
    info.last_heartbeat_time = None


def requeue(m: Mutation, info: ActivityInfo) -> None:
    """An activity waiting for a worker waits again, routed as its workflow now is (its
    versioning override changed); one that runs, or is paused, is left alone."""
    if not info.started and info.pause is None:
        _rearm(m, info, info.current_attempt_scheduled_time or m.now)


def _rearm(m: Mutation, info: ActivityInfo, dispatch_at: datetime) -> None:
    """A new dispatch generation: arm what applies to the activity as it now stands."""
    info.stamp += 1
    m.touch()
    if info.pause is not None:
        return
    schedule_to_close = info.attributes.schedule_to_close_timeout.ToTimedelta()
    if schedule_to_close > _ZERO:
        activity.add_timeout(m, info, activity.SCHEDULE_TO_CLOSE, info.scheduled_time + schedule_to_close)
    if info.started:
        activity.arm_attempt_timeouts(m, info)
    else:
        activity.schedule_retry(m, info, max(dispatch_at, m.now))
