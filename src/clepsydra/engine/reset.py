"""Reset: a new run that replays a run's history up to a workflow task, then goes its own way.

The new run's history is the base run's up to the chosen workflow task's Started
event, then a WorkflowTaskFailed (cause RESET_WORKFLOW) that makes the worker decide
again from there, then the signals the base run received later (they are not lost),
then a new workflow task.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure, ResetWorkflowFailureInfo
from temporalio.api.history.v1 import (
    HistoryEvent,
    WorkflowTaskFailedEventAttributes,
    WorkflowTaskStartedEventAttributes,
)

from clepsydra.engine import activity, nexus_rebuild, workflow, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.rebuild import rebuild
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.errors import InvalidArgument

IDENTITY = "history-service"


def reset(
    base: ExecutionState,
    events: Sequence[HistoryEvent],
    batch_ends: Collection[int],
    finish_event_id: int,
    new_run_id: str,
    now: datetime,
    reason: str,
    request_id: str,
) -> Mutation:
    if not 1 < finish_event_id <= len(events):
        raise InvalidArgument("Workflow task finish ID must be > 1 && <= workflow last event ID.")
    # The run replays up to the event before: a workflow task scheduled or started there is
    # the one that fails, as on the reference (a scheduled one is first recorded started).
    prefix = [e for e in events if e.event_id < finish_event_id]
    last = prefix[-1]
    if last.event_type not in (
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ):
        if last.event_id not in batch_ends:  # the reference rebuilds whole batches only
            raise InvalidArgument(
                f"StateRebuilder unable to Rebuild mutable state to event ID: {last.event_id}, "
                "version: 0, this event must be at the boundary"
            )
        raise InvalidArgument(
            "Can only reset workflow to event ID in range "
            f"[WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: {finish_event_id}"
        )
    state = rebuild(prefix, base.namespace_id, base.namespace, new_run_id, base.first_run_id, request_id)
    state.start_time = now
    m = Mutation(state, now)
    m.events.extend(prefix)
    m.touch()
    started = last
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        started = m.add_event(
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            WorkflowTaskStartedEventAttributes(scheduled_event_id=last.event_id, identity=IDENTITY),
        )
    m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        WorkflowTaskFailedEventAttributes(
            scheduled_event_id=started.workflow_task_started_event_attributes.scheduled_event_id,
            started_event_id=started.event_id,
            cause=WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
            failure=Failure(message=reason, reset_workflow_failure_info=ResetWorkflowFailureInfo()),
            identity=IDENTITY,
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
