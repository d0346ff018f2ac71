"""Workflow tasks: scheduled → started → completed | failed | timed out.

A worker holds at most one workflow task of an execution at a time. Retried tasks
(attempt > 1 with nothing new to tell the worker) are transient: their Scheduled
and Started events are written only if the attempt completes, so a workflow that
keeps failing does not grow its history.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.common.v1 import WorkerVersionStamp
from temporalio.api.enums.v1 import (
    EventType,
    SuggestContinueAsNewReason,
    TaskQueueKind,
    TimeoutType,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    HistoryEvent,
    WorkflowTaskCompletedEventAttributes,
    WorkflowTaskFailedEventAttributes,
    WorkflowTaskScheduledEventAttributes,
    WorkflowTaskStartedEventAttributes,
    WorkflowTaskTimedOutEventAttributes,
)
from temporalio.api.sdk.v1 import WorkflowTaskCompletedMetadata
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from clepsydra.engine import dynamic_config, reset_points, versioning
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState, WorkflowTaskInfo
from clepsydra.engine.tasks import QueueKind, QueueTask, TimerKind, TimerTask
from clepsydra.errors import WORKFLOW_COMPLETED, NotFound

START_TO_CLOSE = TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
SCHEDULE_TO_START = TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
DEFAULT_STICKY_TIMEOUT = timedelta(seconds=5)


class CommandError(Exception):
    """A command the server cannot accept: the workflow task fails with this cause."""

    def __init__(self, cause: WorkflowTaskFailedCause.ValueType, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message


def schedule(m: Mutation, attempt: int = 1, speculative: bool = False) -> None:
    """Schedule a workflow task unless one is outstanding or the workflow has closed
    (`speculative`: one that only carries updates, see engine/speculative.py)."""
    s = m.state
    if s.workflow_task is not None or not s.running:
        return
    transient = attempt > 1 or speculative
    task = WorkflowTaskInfo(
        scheduled_event_id=s.next_event_id,
        attempt=attempt,
        task_queue=s.sticky_task_queue or s.task_queue,
        timeout=s.start.workflow_task_timeout.ToTimedelta(),
        scheduled_time=m.now,
        transient=transient,
        speculative=speculative,
    )
    if not transient:
        m.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, _scheduled_attributes(s, task))
    s.workflow_task = task
    m.touch()
    enqueue(m, task)
    if s.sticky_task_queue:
        # A sticky worker that does not pick its task up in time may be gone: then the
        # task moves to the normal queue, where any worker can replay the workflow.
        m.add_timer(
            TimerTask(
                TimerKind.WORKFLOW_TASK_TIMEOUT,
                m.now + s.sticky_timeout,
                event_id=task.scheduled_event_id,
                attempt=attempt,
                timeout_type=SCHEDULE_TO_START,
            )
        )


def schedule_if_needed(m: Mutation) -> None:
    """Wake the worker if something happened that it has not seen (once the start delay,
    if any, has passed: the first task is what starts the workflow)."""
    if m.needs_workflow_task and m.now >= m.state.execution_time:
        schedule(m)


def record_started(m: Mutation, queued: QueueTask, identity: str, request_id: str) -> list[HistoryEvent]:
    """Hand the task to a poller; returns the transient events the poller must also see."""
    s = m.state
    task = s.workflow_task
    if (
        not s.running
        or task is None
        or task.scheduled_event_id != queued.scheduled_event_id
        or task.attempt != queued.attempt
    ):
        raise NotFound("Workflow task not found.")
    if task.started:
        raise NotFound("Workflow task already started.")
    task.started_time = m.now
    task.identity = identity
    task.request_id = request_id
    m.touch()
    m.add_timer(
        TimerTask(
            TimerKind.WORKFLOW_TASK_TIMEOUT,
            m.now + task.timeout,
            event_id=task.scheduled_event_id,
            attempt=task.attempt,
            timeout_type=START_TO_CLOSE,
        )
    )
    if not task.transient:
        task.started_event_id = m.add_event(
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, _started_attributes(s, task)
        ).event_id
        return []
    task.started_event_id = task.scheduled_event_id + 1
    return _transient_events(m, task)


def started_task(s: ExecutionState, scheduled_event_id: int, attempt: int) -> WorkflowTaskInfo:
    if not s.running:
        raise NotFound(WORKFLOW_COMPLETED)
    task = s.workflow_task
    if (
        task is None
        or not task.started
        or task.scheduled_event_id != scheduled_event_id
        or task.attempt != attempt
    ):
        raise NotFound("Workflow task not found.")
    return task


def complete(m: Mutation, task: WorkflowTaskInfo, request: RespondWorkflowTaskCompletedRequest) -> int:
    """Write the WorkflowTaskCompleted event and return its id; the commands follow it."""
    s = m.state
    _write_transient_events(m, task)
    attributes = WorkflowTaskCompletedEventAttributes(
        scheduled_event_id=task.scheduled_event_id,
        started_event_id=task.started_event_id,
        identity=request.identity,
        binary_checksum=request.binary_checksum,
        sdk_metadata=request.sdk_metadata or WorkflowTaskCompletedMetadata(),
        metering_metadata=request.metering_metadata,
    )
    if request.HasField("worker_version_stamp"):
        attributes.worker_version.CopyFrom(request.worker_version_stamp or WorkerVersionStamp())
    versioning.record_completion(m, request, attributes)
    event = m.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, attributes)
    reset_points.add(m, event.event_id, request)
    s.workflow_task = None
    s.previous_started_event_id = task.started_event_id
    sticky = request.sticky_attributes
    s.sticky_task_queue = sticky.worker_task_queue.name
    s.sticky_timeout = sticky.schedule_to_start_timeout.ToTimedelta() or DEFAULT_STICKY_TIMEOUT
    return event.event_id


def finish_completion(m: Mutation, force_new_task: bool) -> None:
    """After the commands: deliver what arrived meanwhile, and wake the worker if needed."""
    if not m.state.running:
        return
    if m.flush_buffered_events() or force_new_task:
        m.needs_workflow_task = True
    schedule_if_needed(m)


def fail(
    m: Mutation,
    task: WorkflowTaskInfo,
    cause: WorkflowTaskFailedCause.ValueType,
    failure: Failure | None,
    identity: str,
    binary_checksum: str = "",
) -> None:
    has_news = bool(m.state.buffered_events)
    if not task.transient or task.speculative or has_news:
        _write_transient_events(m, task)
        attributes = WorkflowTaskFailedEventAttributes(
            scheduled_event_id=task.scheduled_event_id,
            started_event_id=task.started_event_id,
            cause=cause,
            identity=identity,
            binary_checksum=binary_checksum,
        )
        if failure is not None:
            attributes.failure.CopyFrom(failure)
        m.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, attributes)
    _retry(m, task)


def current(state: ExecutionState, scheduled_event_id: int, attempt: int) -> WorkflowTaskInfo | None:
    """The workflow task of that scheduled event and attempt, if it is still the run's."""
    task = state.workflow_task
    if not state.running or task is None:
        return None
    return task if (task.scheduled_event_id, task.attempt) == (scheduled_event_id, attempt) else None


def time_out(
    m: Mutation, scheduled_event_id: int, attempt: int, timeout_type: TimeoutType.ValueType = START_TO_CLOSE
) -> None:
    s = m.state
    task = current(s, scheduled_event_id, attempt)
    if task is None:
        return
    if timeout_type == SCHEDULE_TO_START:
        if not task.started and task.task_queue == s.sticky_task_queue:
            _sticky_worker_gone(m, task)
        return
    if not task.started:
        return
    if not task.transient or task.speculative or s.buffered_events:
        _write_transient_events(m, task)
        m.add_event(
            EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            WorkflowTaskTimedOutEventAttributes(
                scheduled_event_id=task.scheduled_event_id,
                started_event_id=task.started_event_id,
                timeout_type=START_TO_CLOSE,
            ),
        )
    _retry(m, task)


def _sticky_worker_gone(m: Mutation, task: WorkflowTaskInfo) -> None:
    """The sticky worker did not start the task in time: hand it to the normal queue."""
    s = m.state
    reset_sticky(m)
    if not task.transient:
        m.add_event(
            EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            WorkflowTaskTimedOutEventAttributes(
                scheduled_event_id=task.scheduled_event_id, timeout_type=SCHEDULE_TO_START
            ),
        )
    s.workflow_task = None
    schedule(m, attempt=task.attempt if task.transient else 1, speculative=task.speculative)


def sticky_queue_released(m: Mutation, scheduled_event_id: int, attempt: int) -> None:
    """The worker of the sticky queue the task waits on shut down: the task goes to the normal
    queue as it is, with no event (as on the reference, which writes a schedule-to-start
    timeout only for a sticky worker that silently stopped polling)."""
    s = m.state
    task = current(s, scheduled_event_id, attempt)
    if task is None or task.started or task.task_queue == s.task_queue:
        return
    reset_sticky(m)
    task.task_queue = s.task_queue
    enqueue(m, task)


def enqueue(m: Mutation, task: WorkflowTaskInfo) -> None:
    """Put the task on its queue, with its workflow's priority and pinned version."""
    s = m.state
    pinned = versioning.pinned(s)
    priority = s.start.priority.priority_key
    m.add_queue_task(
        QueueTask(
            QueueKind.WORKFLOW,
            task.task_queue,
            task.scheduled_event_id,
            task.attempt,
            0,
            priority,
            pinned,
            fairness_key=s.start.priority.fairness_key,
            fairness_weight=s.start.priority.fairness_weight,
        )
    )


def make_real(m: Mutation, task: WorkflowTaskInfo) -> None:
    """A speculative task becomes a normal one: its Scheduled event (and Started, if a worker
    has it) is written now, before whatever made it real, as on the reference."""
    task.speculative = False
    task.transient = False
    s = m.state
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, _scheduled_attributes(s, task))
    if task.started:
        m.add_event(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, _started_attributes(s, task))


def reset_sticky(m: Mutation) -> None:
    """Forget the worker that caches this workflow: the next task goes to the normal queue."""
    if m.state.sticky_task_queue:
        m.state.sticky_task_queue = ""
        m.touch()


def _retry(m: Mutation, task: WorkflowTaskInfo) -> None:
    m.state.workflow_task = None
    reset_sticky(m)  # the worker may have lost or corrupted its cached copy
    m.touch()
    news = m.flush_buffered_events()
    schedule(m, attempt=1 if news else task.attempt + 1)


def _write_transient_events(m: Mutation, task: WorkflowTaskInfo) -> None:
    """A transient attempt that reaches an outcome is written to history after all."""
    if not task.transient:
        return
    task.speculative = False
    s = m.state
    task.scheduled_event_id = m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, _scheduled_attributes(m.state, task)
    ).event_id
    task.started_event_id = m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, _started_attributes(s, task)
    ).event_id
    task.transient = False


def _transient_events(m: Mutation, task: WorkflowTaskInfo) -> list[HistoryEvent]:
    """The Scheduled/Started events of a transient attempt, as the poller sees them."""
    events = []
    for offset, (event_type, attributes) in enumerate(
        [
            (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, _scheduled_attributes(m.state, task)),
            (EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, _started_attributes(m.state, task)),
        ]
    ):
        event = m.make_event(event_type, attributes, task.scheduled_event_id + offset)
        event.event_time.FromDatetime(task.scheduled_time if offset == 0 else m.now)
        events.append(event)
    return events


def _scheduled_attributes(s: ExecutionState, task: WorkflowTaskInfo) -> WorkflowTaskScheduledEventAttributes:
    if task.task_queue == s.task_queue:
        queue = TaskQueue(name=task.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL)
    else:
        queue = TaskQueue(
            name=task.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=s.task_queue
        )
    attributes = WorkflowTaskScheduledEventAttributes(task_queue=queue, attempt=task.attempt)
    attributes.start_to_close_timeout.FromTimedelta(task.timeout)
    return attributes


def _started_attributes(s: ExecutionState, task: WorkflowTaskInfo) -> WorkflowTaskStartedEventAttributes:
    # The worker is told to continue as new once the history is past either threshold,
    # counting events up to this started one and the bytes already written, as the reference.
    limits = dynamic_config.current()
    reasons = []
    if s.history_size_bytes >= limits.history_size_suggest_continue_as_new:
        reasons.append(SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_HISTORY_SIZE_TOO_LARGE)
    if task.scheduled_event_id + 1 >= limits.history_count_suggest_continue_as_new:
        reasons.append(SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS)
    return WorkflowTaskStartedEventAttributes(
        scheduled_event_id=task.scheduled_event_id,
        identity=task.identity,
        request_id=task.request_id,
        history_size_bytes=s.history_size_bytes,
        suggest_continue_as_new=bool(reasons),
        suggest_continue_as_new_reasons=reasons,
    )
