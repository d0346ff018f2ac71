"""Mutable state of one workflow execution: what the engine needs to decide, beyond history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio.api.activity.v1 import ActivityExecutionOutcome
from temporalio.api.common.v1 import Memo, Payloads, SearchAttributes
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
    StartChildWorkflowExecutionInitiatedEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.sdk.v1 import UserMetadata
from temporalio.api.update.v1 import Outcome
from temporalio.api.workflow.v1 import ResetPoints, WorkflowExecutionVersioningInfo

from clepsydra.engine.nexus_state import NexusState
from clepsydra.engine.schedule_state import ScheduleState

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING


@dataclass(frozen=True)
class ExecutionKey:
    namespace_id: str
    workflow_id: str
    run_id: str


@dataclass
class WorkflowTaskInfo:
    scheduled_event_id: int
    attempt: int
    task_queue: str
    timeout: timedelta
    scheduled_time: datetime
    # A retried task whose Scheduled/Started events are written only when it completes.
    transient: bool = False
    # A task made only to carry updates to an idle workflow (engine/speculative.py): transient
    # too, and written only if more than update rejections comes of it.
    speculative: bool = False
    started_event_id: int = 0
    started_time: datetime | None = None
    request_id: str = ""
    identity: str = ""

    @property
    def started(self) -> bool:
        return self.started_event_id != 0


@dataclass
class ActivityPause:
    """Who paused an activity, when and why: while paused it is neither dispatched nor timed out."""

    time: datetime
    identity: str = ""
    reason: str = ""
    request_id: str = ""


@dataclass
class ActivityInfo:
    scheduled_event_id: int
    # The scheduled event's attributes, with the options as an operator last changed them.
    attributes: ActivityTaskScheduledEventAttributes
    scheduled_time: datetime
    attempt: int = 1
    current_attempt_scheduled_time: datetime | None = None
    started_time: datetime | None = None
    request_id: str = ""
    identity: str = ""
    last_worker_identity: str = ""
    last_heartbeat_time: datetime | None = None
    heartbeat_details: Payloads | None = None
    last_failure: Failure | None = None
    cancel_requested_event_id: int = 0
    last_attempt_complete_time: datetime | None = None
    stamp: int = 0  # the dispatch generation its tasks and timers carry (QueueTask.stamp)
    pause: ActivityPause | None = None
    # An operator reset it while an attempt ran: that attempt hears so through its heartbeats,
    # and the heartbeat is dropped before the next attempt if asked.
    reset_requested: bool = False
    reset_heartbeat: bool = False
    original_options: ActivityTaskScheduledEventAttributes | None = None  # before the first change

    @property
    def activity_id(self) -> str:
        return self.attributes.activity_id

    @property
    def started(self) -> bool:
        return self.started_time is not None

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_event_id != 0


@dataclass
class StandaloneActivity:
    """What an execution that runs one activity started by a client keeps beyond the activity
    itself (see engine/standalone_activities.py)."""

    activity_id: str
    outcome: ActivityExecutionOutcome | None = None
    canceled_reason: str = ""
    user_metadata: UserMetadata | None = None
    final: ActivityInfo | None = None  # the activity as it was when it closed


@dataclass
class TimerInfo:
    timer_id: str
    started_event_id: int
    fire_time: datetime


@dataclass
class UpdateInfo:
    """An update the worker accepted; its outcome once it completed."""

    accepted_event_id: int
    completed_event_id: int = 0
    outcome: Outcome | None = None


@dataclass
class ChildInfo:
    initiated_event_id: int
    attributes: StartChildWorkflowExecutionInitiatedEventAttributes
    started_event_id: int = 0
    run_id: str = ""
    # The command's summary and details, for the child's start (its initiated event has them).
    user_metadata: UserMetadata | None = None

    @property
    def started(self) -> bool:
        return self.started_event_id != 0


@dataclass
class ExecutionState:
    namespace_id: str
    namespace: str
    workflow_id: str
    run_id: str
    first_run_id: str
    start: WorkflowExecutionStartedEventAttributes
    start_time: datetime
    start_request_id: str
    status: WorkflowExecutionStatus.ValueType = RUNNING
    close_time: datetime | None = None
    next_event_id: int = 1
    # Started event id of the last completed workflow task: what the worker has already seen.
    previous_started_event_id: int = 0
    workflow_task: WorkflowTaskInfo | None = None
    activities: dict[int, ActivityInfo] = field(default_factory=dict)
    timers: dict[str, TimerInfo] = field(default_factory=dict)
    # Children not yet closed, by initiated event id; kept after the parent closes, for
    # its parent close policy.
    children: dict[int, ChildInfo] = field(default_factory=dict)
    # Signals and cancel requests on their way to other workflows, by initiated event id.
    signals_out: dict[int, SignalExternalWorkflowExecutionInitiatedEventAttributes] = field(
        default_factory=dict
    )
    cancels_out: dict[int, RequestCancelExternalWorkflowExecutionInitiatedEventAttributes] = field(
        default_factory=dict
    )
    # Events that arrived while a workflow task was in flight, appended after it ends.
    buffered_events: list[HistoryEvent] = field(default_factory=list)
    memo: Memo = field(default_factory=Memo)
    search_attributes: SearchAttributes = field(default_factory=SearchAttributes)
    signal_request_ids: list[str] = field(default_factory=list)
    signals_received: int = 0
    # The worker queue of the worker that caches this workflow (sticky execution), if any.
    sticky_task_queue: str = ""
    sticky_timeout: timedelta = timedelta(seconds=5)
    updates: dict[str, UpdateInfo] = field(default_factory=dict)
    cancel_requested: bool = False
    cancel_request_id: str = ""
    history_size_bytes: int = 0
    state_transition_count: int = 0
    # The schedule this execution runs, if it is a schedule's (see engine/schedules.py).
    schedule: ScheduleState | None = None
    # The id of the schedule that started this chain of runs: told when the chain ends.
    scheduled_by: str = ""
    # The activity this execution runs, if a client started it on its own.
    standalone: StandaloneActivity | None = None
    # Nexus operations it called and completion callbacks it carries (engine/nexus_state.py).
    nexus: NexusState | None = None
    # The start's summary and details: on the started event, and shown by describe.
    user_metadata: UserMetadata | None = None
    # Where a reset may take the workflow: the first completed workflow task of each build
    # (engine/reset_points.py), those of the runs before it included.
    auto_reset_points: ResetPoints = field(default_factory=ResetPoints)
    # The worker version and versioning behaviour of the last completed workflow task
    # (engine/versioning.py); None until a versioned worker completed one.
    versioning: WorkflowExecutionVersioningInfo | None = None

    @property
    def key(self) -> ExecutionKey:
        return ExecutionKey(self.namespace_id, self.workflow_id, self.run_id)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def workflow_type(self) -> str:
        return self.start.workflow_type.name

    @property
    def task_queue(self) -> str:
        return self.start.task_queue.name

    @property
    def execution_time(self) -> datetime:
        """When the first workflow task may run: the start time plus any start delay."""
        return self.start_time + self.start.first_workflow_task_backoff.ToTimedelta()

    @property
    def history_length(self) -> int:
        return self.next_event_id - 1

    def activity_by_id(self, activity_id: str) -> ActivityInfo | None:
        return next((a for a in self.activities.values() if a.activity_id == activity_id), None)
