"""Tasks the engine asks for: written in the same transaction as the state change, acted on after.

A task is named by a natural key, so writing it twice or acting on it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from temporalio.api.enums.v1 import TimeoutType


class QueueKind(IntEnum):
    WORKFLOW = 1
    ACTIVITY = 2
    NEXUS = 3  # Nexus requests for handler workers: in memory only (matching/task_queues.py)


class TimerKind(IntEnum):
    USER_TIMER = 1
    ACTIVITY_TIMEOUT = 2
    ACTIVITY_RETRY = 3
    WORKFLOW_TASK_TIMEOUT = 4
    WORKFLOW_RUN_TIMEOUT = 5
    WORKFLOW_START_BACKOFF = 6
    SCHEDULE_WAKE = 7
    # Nexus operations: a schedule-to-close timeout, and the backoff before a start or a
    # cancel request is sent again.
    NEXUS_TIMEOUT = 8
    NEXUS_RETRY = 9
    NEXUS_CANCEL_RETRY = 10


class TransferKind(IntEnum):
    START_CHILD = 1
    SIGNAL_EXTERNAL = 2
    CANCEL_EXTERNAL = 3
    NOTIFY_PARENT = 4
    PARENT_CLOSE_POLICY = 5
    # Schedules: start an action, stop the workflows the overlap policy stops, and (from a
    # workflow a schedule started) tell the schedule that the workflow closed.
    SCHEDULE_START = 6
    SCHEDULE_STOP = 7
    NOTIFY_SCHEDULER = 8
    # Nexus: send an operation's start or cancel request to its handler; deliver a closed
    # run's completion callbacks.
    NEXUS_START = 9
    NEXUS_CANCEL = 10
    NEXUS_CALLBACK = 11


@dataclass(frozen=True)
class TransferTask:
    """Something to do to another execution once this change has committed."""

    kind: TransferKind
    event_id: int = 0

    @property
    def key(self) -> str:
        return f"x{self.kind}:{self.event_id}"


@dataclass(frozen=True)
class QueueTask:
    """A workflow or activity task waiting on a task queue for a poller."""

    kind: QueueKind
    task_queue: str
    scheduled_event_id: int
    attempt: int
    # An activity's dispatch generation: pausing, unpausing, resetting or changing its options
    # makes the tasks and timers of earlier generations stale.
    stamp: int = 0
    # Its priority key (1 first; 0: none given), which orders the queue's backlog.
    priority: int = 0
    # The worker version (engine/versioning.py) a pinned workflow's task must run on.
    pinned: str = ""
    # Its fairness key and weight (0: none given), which share its priority's turns between
    # keys (matching/fairness.py).
    fairness_key: str = ""
    fairness_weight: float = 0.0

    @property
    def key(self) -> str:
        return f"q{self.kind}:{self.scheduled_event_id}:{self.attempt}{_stamp_suffix(self.stamp)}"


@dataclass(frozen=True)
class TimerTask:
    """Something to re-check at `fire_time`: a user timer, a timeout, a retry backoff."""

    kind: TimerKind
    fire_time: datetime
    event_id: int = 0
    attempt: int = 0
    timeout_type: TimeoutType.ValueType = TimeoutType.TIMEOUT_TYPE_UNSPECIFIED
    stamp: int = 0  # as QueueTask.stamp

    @property
    def key(self) -> str:
        return f"t{self.kind}:{self.event_id}:{self.attempt}:{self.timeout_type}{_stamp_suffix(self.stamp)}"


def _stamp_suffix(stamp: int) -> str:
    """Keys of generation 0 are those written before generations existed."""
    return f":{stamp}" if stamp else ""
