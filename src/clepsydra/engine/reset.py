"""Reset: a new run that replays a run's history up to a workflow task, then goes its own way.

The new run's history is the base run's up to the chosen workflow task's Started
event, then a WorkflowTaskFailed (cause RESET_WORKFLOW) that makes the worker decide
again from there, then the signals the base run received later (they are not lost),
then a new workflow task.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure, ResetWorkflowFailureInfo
from temporalio.api.history.v1 import HistoryEvent, WorkflowTaskFailedEventAttributes

from clepsydra.engine import activity, nexus_rebuild, workflow, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.rebuild import rebuild
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.errors import InvalidArgument

RESETTABLE = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


def reset(
    base: ExecutionState,
    events: Sequence[HistoryEvent],
    finish_event_id: int,
    new_run_id: str,
    now: datetime,
    reason: str,
    request_id: str,
) -> Mutation:
    by_id = {e.event_id: e for e in events}
    finish = by_id.get(finish_event_id)
    started = by_id.get(finish_event_id - 1)
    if (
        finish is None
        or finish.event_type not in RESETTABLE
        or started is None
        or started.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ):
        raise InvalidArgument(
            f"Invalid WorkflowTaskFinishEventId {finish_event_id}: it must be the id of a workflow task "
            "completed, failed or timed out event."
        )
    prefix = [e for e in events if e.event_id < finish_event_id]
    state = rebuild(prefix, base.namespace_id, base.namespace, new_run_id, base.first_run_id, request_id)
    state.start_time = now
    m = Mutation(state, now)
    m.events.extend(prefix)
    m.touch()
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        WorkflowTaskFailedEventAttributes(
            scheduled_event_id=started.workflow_task_started_event_attributes.scheduled_event_id,
            started_event_id=started.event_id,
            cause=WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
            failure=Failure(message=reason, reset_workflow_failure_info=ResetWorkflowFailureInfo()),
            identity="history-service",
            base_run_id=base.run_id,
            new_run_id=new_run_id,
        ),
    )
    state.previous_started_event_id = started.event_id
    # Signals after the reset point, including those still buffered behind a workflow task
    # in flight in the base run (ids are dense from 1: these slices follow the reset point).
    for later in [*events[finish_event_id:], *base.buffered_events]:
        if later.HasField("workflow_execution_signaled_event_attributes"):
            signal = later.workflow_execution_signaled_event_attributes
            workflow.signal(m, signal.signal_name, signal.input, signal.identity, signal.header, "")
    # What was pending at the reset point is pending again, with fresh tasks and timers.
    for info in state.activities.values():
        activity.redispatch(m, info)
    for timer in state.timers.values():
        m.add_timer(TimerTask(TimerKind.USER_TIMER, timer.fire_time, event_id=timer.started_event_id))
    nexus_rebuild.resume(m)
    run_timeout = state.start.workflow_run_timeout.ToTimedelta()
    if run_timeout.total_seconds() > 0:
        m.add_timer(TimerTask(TimerKind.WORKFLOW_RUN_TIMEOUT, now + run_timeout))
    workflow_task.schedule(m)
    m.visibility_changed = True
    return m
