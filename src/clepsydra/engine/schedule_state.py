"""Mutable state of a schedule, kept on the execution that runs it (`ExecutionState.schedule`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import ScheduleOverlapPolicy, WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.schedule.v1 import BackfillRequest, Schedule, ScheduleInfo


@dataclass
class BufferedStart:
    """An action due (or asked for) that has not started yet."""

    nominal_time: datetime
    actual_time: datetime  # the nominal time plus jitter
    # UNSPECIFIED: the schedule's policy when the start is considered (an update may change it).
    overlap_policy: ScheduleOverlapPolicy.ValueType
    manual: bool  # triggered or backfilled: neither paused nor limited


@dataclass
class PendingStart:
    """A start handed to a transfer task, until its outcome is recorded."""

    start: BufferedStart
    workflow_id: str
    request_id: str
    tracked: bool  # counted as the running workflow (allow-all starts are not)
    # Set if the workflow closed before its start was recorded (it can be that quick).
    closed_status: WorkflowExecutionStatus.ValueType = (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
    )


@dataclass
class PendingStop:
    """Workflows the overlap policy cancels or terminates, handed to a transfer task."""

    terminate: bool
    executions: list[WorkflowExecution]


@dataclass
class ScheduleState:
    schedule_id: str
    # Spec canonical, policies with their defaults filled, as DescribeSchedule shows them.
    schedule: Schedule
    info: ScheduleInfo
    # Times up to this one have been looked at; the next action is the first one after it.
    last_processed_time: datetime
    conflict_token: int = 1
    buffer: list[BufferedStart] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    # Transfer tasks under way, by the sequence number that names them.
    starts: dict[int, PendingStart] = field(default_factory=dict)
    stops: dict[int, PendingStop] = field(default_factory=dict)
    # Workflow ids already asked to stop, so that each is asked once.
    stopping: list[str] = field(default_factory=list)
    last_completion_result: Payloads | None = None
    continued_failure: Failure | None = None
    sequence: int = 0
    # The wake-up timer in force (its event id), and when it fires.
    wake_id: int = 0
    wake_time: datetime | None = None
