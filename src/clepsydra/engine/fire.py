"""Durable timers coming due: each kind goes to the entity it belongs to."""

from __future__ import annotations

from clepsydra.engine import activity, timers, workflow, workflow_task
from clepsydra.engine.mutation import Mutation
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
