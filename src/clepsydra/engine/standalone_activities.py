"""Standalone activities: an activity a client starts and awaits directly, with no workflow.

Each runs in an execution of its own (workflow id `temporal-sys-activity:<activity id>`,
hidden from workflow lists by its namespace division) holding the one activity, so it
takes the update path, the task queues, the timers and the retries of every other
activity, and is durable, sharded and fenced like any execution. It has no workflow
tasks: when its activity closes (completed, failed, timed out, canceled), the execution
closes with it, with the activity's outcome; terminating it closes both at once.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.api.activity.v1 import ActivityExecutionOutcome
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
from temporalio.api.failure.v1 import CanceledFailureInfo, Failure, TerminatedFailureInfo
from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartActivityExecutionRequest

from clepsydra.engine import activity, limits, retry, start, workflow
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.schedule_views import json_payload
from clepsydra.engine.state import ActivityInfo, ExecutionState, StandaloneActivity
from clepsydra.errors import InvalidArgument, NotFound

PREFIX = "temporal-sys-activity:"
DIVISION = "TemporalStandaloneActivity"
DIVISION_ATTRIBUTE = "TemporalNamespaceDivision"


def workflow_id_of(activity_id: str) -> str:
    return PREFIX + activity_id


def not_found(activity_id: str) -> NotFound:
    return NotFound(f"activity not found for ID: {activity_id}")


def standalone_of(s: ExecutionState) -> StandaloneActivity:
    if s.standalone is None:
        raise not_found(s.workflow_id.removeprefix(PREFIX))
    return s.standalone


def begin(
    namespace_id: str, namespace: str, request: StartActivityExecutionRequest, run_id: str, now: datetime
) -> Mutation:
    """The execution of a new standalone activity, its first attempt dispatched (or, with a
    start delay, due when the delay ends)."""
    scheduled = _scheduled_attributes(request)
    attributes = WorkflowExecutionStartedEventAttributes(
        workflow_type=WorkflowType(name=request.activity_type.name),
        task_queue=scheduled.task_queue,
        input=request.input,
        identity=request.identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
        search_attributes=request.search_attributes,
        header=request.header,
        priority=request.priority,
        first_workflow_task_backoff=request.start_delay,
    )
    attributes.workflow_id = workflow_id_of(request.activity_id)
    attributes.search_attributes.indexed_fields[DIVISION_ATTRIBUTE].CopyFrom(
        json_payload(f'"{DIVISION}"', "Keyword")
    )
    state = start.new_execution(namespace_id, namespace, attributes, run_id, run_id, now, request.request_id)
    metadata = request.user_metadata if request.HasField("user_metadata") else None
    state.standalone = StandaloneActivity(request.activity_id, user_metadata=metadata)
    m = Mutation(state, now)
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, attributes)
    m.visibility_changed = True
    event = m.add_event(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, scheduled)
    first_attempt = now + request.start_delay.ToTimedelta()
    info = ActivityInfo(event.event_id, scheduled, now, current_attempt_scheduled_time=first_attempt)
    state.activities[info.scheduled_event_id] = info
    schedule_to_close = scheduled.schedule_to_close_timeout.ToTimedelta()
    if schedule_to_close:
        activity.add_timeout(m, info, activity.SCHEDULE_TO_CLOSE, first_attempt + schedule_to_close)
    activity.schedule_retry(m, info, first_attempt)
    return m


def _scheduled_attributes(request: StartActivityExecutionRequest) -> ActivityTaskScheduledEventAttributes:
    if not request.activity_id:
        raise InvalidArgument("activityId is not set")
    if not request.activity_type.name:
        raise InvalidArgument("activityType is not set")
    if not request.task_queue.name:
        raise InvalidArgument("taskQueue is not set")
    limits.check_blob(limits.payloads_size(request.input))
    attributes = ActivityTaskScheduledEventAttributes(
        activity_id=request.activity_id,
        activity_type=request.activity_type,
        task_queue=TaskQueue(name=request.task_queue.name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        header=request.header,
        input=request.input,
        priority=request.priority,
        retry_policy=retry.with_defaults(request.retry_policy if request.HasField("retry_policy") else None),
    )
    for name in activity.TIMEOUTS:
        if getattr(request, name).ToTimedelta().total_seconds() < 0:
            raise InvalidArgument(f"invalid {_camel(name)}: negative duration")
        getattr(attributes, name).CopyFrom(getattr(request, name))
    if request.start_delay.ToTimedelta().total_seconds() < 0:
        raise InvalidArgument("invalid StartDelay: negative duration")
    if not activity.deduce_timeouts(attributes):
        raise InvalidArgument(
            "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. "
            f"ActivityId={request.activity_id} ActivityType={request.activity_type.name}"
        )
    return attributes


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def settle(m: Mutation) -> None:
    """After any change: once its activity has closed, the execution closes with its outcome."""
    s = m.state
    standalone = s.standalone
    if standalone is None or not s.running or s.activities:
        return
    closing = next(e for e in reversed(m.events) if e.event_type in _CLOSING)
    standalone.outcome, status = _outcome(closing)
    workflow.close(m, status)


def request_cancel(m: Mutation, reason: str) -> None:
    """Ask the activity to stop: at once if no attempt runs, else when its worker hears so."""
    standalone = standalone_of(m.state)
    if not m.state.running:
        return
    info = next(iter(m.state.activities.values()))
    if info.cancel_requested:
        return
    standalone.canceled_reason = reason
    activity.cancel(m, info)


def terminate(m: Mutation, reason: str, identity: str) -> None:
    standalone = standalone_of(m.state)
    if not m.state.running:
        return
    standalone.final = next(iter(m.state.activities.values()))
    standalone.outcome = ActivityExecutionOutcome(
        failure=Failure(message=reason, source="Server", terminated_failure_info=TerminatedFailureInfo())
    )
    workflow.terminate(m, reason, None, identity)


def current_activity(s: ExecutionState) -> ActivityInfo:
    """The activity as it is now, or as it was when it closed."""
    standalone = standalone_of(s)
    info = next(iter(s.activities.values()), None) or standalone.final
    assert info is not None, "a standalone execution always has its activity"
    return info


_CLOSING = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}


def _outcome(event: HistoryEvent) -> tuple[ActivityExecutionOutcome, Status.ValueType]:
    match event.event_type:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            result = event.activity_task_completed_event_attributes.result
            return ActivityExecutionOutcome(result=result), Status.WORKFLOW_EXECUTION_STATUS_COMPLETED
        case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            return (
                ActivityExecutionOutcome(failure=failed.failure, retry_state=failed.retry_state),
                Status.WORKFLOW_EXECUTION_STATUS_FAILED,
            )
        case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timed_out = event.activity_task_timed_out_event_attributes
            return (
                ActivityExecutionOutcome(failure=timed_out.failure, retry_state=timed_out.retry_state),
                Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
            )
    canceled = event.activity_task_canceled_event_attributes
    failure = Failure(
        message="Activity canceled",
        canceled_failure_info=CanceledFailureInfo(details=canceled.details, identity=canceled.identity),
    )
    return ActivityExecutionOutcome(failure=failure), Status.WORKFLOW_EXECUTION_STATUS_CANCELED
