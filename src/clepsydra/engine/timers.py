"""User timers: StartTimer and CancelTimer commands, and firing."""

from __future__ import annotations

from temporalio.api.command.v1 import CancelTimerCommandAttributes, StartTimerCommandAttributes
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import (
    TimerCanceledEventAttributes,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
)

from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState, TimerInfo
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.engine.workflow_task import CommandError

BAD_START = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES
BAD_CANCEL = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES


def start(m: Mutation, completed_event_id: int, command: StartTimerCommandAttributes) -> None:
    if not command.timer_id:
        raise CommandError(BAD_START, "TimerId is not set on StartTimerCommand.")
    # A zero (or unset) duration is a timer that fires at once, as on the reference server;
    # the SDKs send one for workflow.sleep(0).
    timeout = command.start_to_fire_timeout
    if (timeout.seconds > 0 > timeout.nanos) or (timeout.seconds < 0 < timeout.nanos):
        raise CommandError(
            BAD_START, _invalid_duration("duration has seconds and nanos with different signs", command)
        )
    duration = timeout.ToTimedelta()
    if duration.total_seconds() < 0:
        raise CommandError(BAD_START, _invalid_duration("negative duration", command))
    if command.timer_id in m.state.timers:
        raise CommandError(BAD_START, f"Timer with ID {command.timer_id} is already in use.")
    event = m.add_event(
        EventType.EVENT_TYPE_TIMER_STARTED,
        TimerStartedEventAttributes(
            timer_id=command.timer_id,
            start_to_fire_timeout=command.start_to_fire_timeout,
            workflow_task_completed_event_id=completed_event_id,
        ),
    )
    timer = TimerInfo(command.timer_id, event.event_id, m.now + duration)
    m.state.timers[timer.timer_id] = timer
    m.add_timer(TimerTask(TimerKind.USER_TIMER, timer.fire_time, event_id=timer.started_event_id))


def _invalid_duration(reason: str, command: StartTimerCommandAttributes) -> str:
    return f"An invalid StartToFireTimeout is set on StartTimerCommand: {reason}. TimerId={command.timer_id}"


def cancel(
    m: Mutation, completed_event_id: int, command: CancelTimerCommandAttributes, identity: str
) -> None:
    timer = m.state.timers.pop(command.timer_id, None)
    if timer is None:
        raise CommandError(BAD_CANCEL, f"Timer with ID {command.timer_id} is not pending.")
    m.add_event(
        EventType.EVENT_TYPE_TIMER_CANCELED,
        TimerCanceledEventAttributes(
            timer_id=timer.timer_id,
            started_event_id=timer.started_event_id,
            workflow_task_completed_event_id=completed_event_id,
            identity=identity,
        ),
    )


def pending(state: ExecutionState, started_event_id: int) -> TimerInfo | None:
    """The user timer started by that event, if it has neither fired nor been canceled."""
    if not state.running:
        return None
    return next((t for t in state.timers.values() if t.started_event_id == started_event_id), None)


def fire(m: Mutation, task: TimerTask) -> None:
    timer = pending(m.state, task.event_id)
    if timer is None:
        return
    del m.state.timers[timer.timer_id]
    m.add_external_event(
        EventType.EVENT_TYPE_TIMER_FIRED,
        TimerFiredEventAttributes(timer_id=timer.timer_id, started_event_id=timer.started_event_id),
    )
