"""A run's beginning: its Started event, its state, its first timers and workflow task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import ContinueAsNewInitiator, EventType, TaskQueueKind
from temporalio.api.history.v1 import (
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import ResetPoints
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from clepsydra.engine import cron, retry, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.errors import InvalidArgument

DEFAULT_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
MAX_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=120)
_ZERO = timedelta(0)


def attributes_from_request(
    request: StartWorkflowExecutionRequest, run_id: str, now: datetime
) -> WorkflowExecutionStartedEventAttributes:
    """The Started event of a run started by a client, with timeouts normalized as the
    reference server does (the worker reads the effective values from it)."""
    execution_timeout = request.workflow_execution_timeout.ToTimedelta()
    run_timeout = request.workflow_run_timeout.ToTimedelta()
    if run_timeout == _ZERO or (_ZERO < execution_timeout < run_timeout):
        run_timeout = execution_timeout
    start = WorkflowExecutionStartedEventAttributes(
        workflow_id=request.workflow_id,
        workflow_type=request.workflow_type,
        task_queue=TaskQueue(name=request.task_queue.name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        identity=request.identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
        cron_schedule=request.cron_schedule,
        priority=request.priority,
    )
    # What the request left unset stays unset, as on the reference (the SDK reads an absent
    # execution timeout as None, a present one of zero as 0:00:00).
    for name in ("header", "input", "memo", "search_attributes", "versioning_override"):
        if request.HasField(name):
            getattr(start, name).CopyFrom(getattr(request, name))
    if execution_timeout > _ZERO:
        start.workflow_execution_timeout.FromTimedelta(execution_timeout)
    if run_timeout > _ZERO:
        start.workflow_run_timeout.FromTimedelta(run_timeout)
    start.workflow_task_timeout.FromTimedelta(
        task_timeout(request.workflow_task_timeout.ToTimedelta(), run_timeout)
    )
    if request.HasField("retry_policy"):
        start.retry_policy.CopyFrom(retry.with_defaults(request.retry_policy))
    # What a schedule hands on from the runs it started before (the SDK shows it to the workflow).
    if request.HasField("last_completion_result"):
        start.last_completion_result.CopyFrom(request.last_completion_result)
    if request.HasField("continued_failure"):
        start.continued_failure.CopyFrom(request.continued_failure)
    # A Nexus handler's workflow: whom to tell when it ends (engine/nexus_callbacks.py).
    start.completion_callbacks.extend(request.completion_callbacks)
    if execution_timeout > _ZERO:
        start.workflow_execution_expiration_time.FromDatetime(now + execution_timeout)
    delay = max(request.workflow_start_delay.ToTimedelta(), _ZERO)
    if request.cron_schedule:
        start.initiator = ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        first = cron.backoff(request.cron_schedule, now)
        if first is None:
            raise InvalidArgument(cron.NEVER)
        delay = first
    start.first_workflow_task_backoff.FromTimedelta(delay)
    return start


def task_timeout(requested: timedelta, run_timeout: timedelta) -> timedelta:
    timeout = requested or DEFAULT_WORKFLOW_TASK_TIMEOUT
    if run_timeout > _ZERO:
        timeout = min(timeout, run_timeout)
    return min(timeout, MAX_WORKFLOW_TASK_TIMEOUT)


def new_execution(
    namespace_id: str,
    namespace: str,
    start: WorkflowExecutionStartedEventAttributes,
    run_id: str,
    first_run_id: str,
    now: datetime,
    request_id: str,
) -> ExecutionState:
    """The state of a run about to start; `start` then writes its first events."""
    return ExecutionState(
        namespace_id=namespace_id,
        namespace=namespace,
        workflow_id=start.workflow_id,
        run_id=run_id,
        first_run_id=first_run_id,
        start=start,
        start_time=now,
        start_request_id=request_id,
        memo=start.memo,
        search_attributes=start.search_attributes,
        auto_reset_points=ResetPoints(points=start.prev_auto_reset_points.points),
    )


def begin(m: Mutation, signal: WorkflowExecutionSignaledEventAttributes | None = None) -> None:
    s = m.state
    started = m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, s.start)
    if s.user_metadata is not None:
        started.user_metadata.CopyFrom(s.user_metadata)
    m.visibility_changed = True
    if signal is not None:
        m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, signal)
        if signal.request_id:
            s.signal_request_ids.append(signal.request_id)
    deadlines = []
    run_timeout = s.start.workflow_run_timeout.ToTimedelta()
    if run_timeout > _ZERO:
        deadlines.append(s.execution_time + run_timeout)
    if s.start.workflow_execution_expiration_time.seconds:
        deadlines.append(s.start.workflow_execution_expiration_time.ToDatetime(UTC))
    if deadlines:
        m.add_timer(TimerTask(TimerKind.WORKFLOW_RUN_TIMEOUT, min(deadlines)))
    if s.execution_time > s.start_time:
        m.add_timer(TimerTask(TimerKind.WORKFLOW_START_BACKOFF, s.execution_time))
    else:
        workflow_task.schedule(m)
