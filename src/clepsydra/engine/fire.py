"""Durable timers coming due: each kind goes to the entity it belongs to."""

from __future__ import annotations

from clepsydra.engine import (
    activity,
    nexus_cancels,
    nexus_operations,
    schedules,
    timers,
    workflow,
    workflow_task,
)
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask


def fire(m: Mutation, task: TimerTask) -> None:
    """Act on a due timer; a timer whose subject has moved on is a no-op."""
    match task.kind:
        case TimerKind.USER_TIMER:
            timers.fire(m, task)
        case TimerKind.ACTIVITY_TIMEOUT | TimerKind.ACTIVITY_RETRY:
            activity.on_timer(m, task)
        case TimerKind.WORKFLOW_TASK_TIMEOUT:
            workflow_task.time_out(m, task.event_id, task.attempt, task.timeout_type)
        case TimerKind.WORKFLOW_RUN_TIMEOUT:
            workflow.time_out(m)
        case TimerKind.WORKFLOW_START_BACKOFF:
            workflow_task.schedule(m)
        case TimerKind.SCHEDULE_WAKE:
            schedules.wake(m, task)
        case TimerKind.NEXUS_TIMEOUT | TimerKind.NEXUS_RETRY:
            nexus_operations.on_timer(m, task)
        case TimerKind.NEXUS_CANCEL_RETRY:
            nexus_cancels.on_timer(m, task)


def is_live(state: ExecutionState, task: TimerTask) -> bool:
    """Whether firing the timer could still do something, by the rules `fire` applies: the
    timeouts of tasks that completed stay in the timer queue until they come due, as no-ops
    (time skipping must not jump to them)."""
    if not state.running:
        return False
    match task.kind:
        case TimerKind.USER_TIMER:
            return timers.pending(state, task.event_id) is not None
        case TimerKind.ACTIVITY_TIMEOUT | TimerKind.ACTIVITY_RETRY:
            return activity.timer_subject(state, task) is not None
        case TimerKind.WORKFLOW_TASK_TIMEOUT:
            return workflow_task.current(state, task.event_id, task.attempt) is not None
        case TimerKind.SCHEDULE_WAKE:
            return state.schedule is not None and state.schedule.wake_id == task.event_id
        case TimerKind.NEXUS_TIMEOUT | TimerKind.NEXUS_RETRY:
            return nexus_operations.timer_subject(state, task) is not None
        case TimerKind.NEXUS_CANCEL_RETRY:
            return nexus_cancels.timer_subject(state, task) is not None
    return True
