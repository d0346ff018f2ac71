"""What an execution keeps of Nexus beyond its history: the operations it called (caller
side) and the completion callbacks attached to it by a handler (handler side).

See engine/nexus_operations.py and engine/nexus_callbacks.py for how they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio.api.common.v1 import Link, Payload
from temporalio.api.enums.v1 import CallbackState, NexusOperationCancellationState, PendingNexusOperationState
from temporalio.api.failure.v1 import Failure

OperationState = PendingNexusOperationState
CancelState = NexusOperationCancellationState


@dataclass
class NexusCancel:
    """A cancel request for a started operation: sent to its handler, retried like a start."""

    requested_event_id: int
    requested_time: datetime
    state: int = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_UNSPECIFIED  # not sent until started
    attempt: int = 0
    last_attempt_complete_time: datetime | None = None
    last_attempt_failure: Failure | None = None
    next_attempt_schedule_time: datetime | None = None


@dataclass
class NexusOperationInfo:
    """An operation a workflow scheduled, until it completes, fails, is canceled or times out."""

    scheduled_event_id: int
    endpoint: str
    endpoint_id: str
    service: str
    operation: str
    request_id: str
    scheduled_time: datetime
    input: Payload | None = None
    header: dict[str, str] = field(default_factory=dict)
    schedule_to_close_timeout: timedelta = timedelta(0)
    schedule_to_start_timeout: timedelta = timedelta(0)
    start_to_close_timeout: timedelta = timedelta(0)
    state: int = OperationState.PENDING_NEXUS_OPERATION_STATE_SCHEDULED
    attempt: int = 1
    last_attempt_complete_time: datetime | None = None
    last_attempt_failure: Failure | None = None
    next_attempt_schedule_time: datetime | None = None
    operation_token: str = ""
    started_time: datetime | None = None
    cancel: NexusCancel | None = None

    @property
    def started(self) -> bool:
        return self.state == OperationState.PENDING_NEXUS_OPERATION_STATE_STARTED


@dataclass
class CallbackRecord:
    """Delivery of one of the run's completion callbacks (the callback itself is in the
    Started event's `completion_callbacks`, at the same index)."""

    registration_time: datetime
    state: int = CallbackState.CALLBACK_STATE_STANDBY
    attempt: int = 0
    last_attempt_complete_time: datetime | None = None
    last_attempt_failure: Failure | None = None


@dataclass
class StandaloneNexus:
    """What an execution that runs one operation started by a client keeps beyond the
    operation itself (see engine/standalone_nexus.py)."""

    operation_id: str
    scheduled_event_id: int
    identity: str = ""
    result: Payload | None = None
    failure: Failure | None = None
    canceled_reason: str = ""
    terminate_request_id: str = ""
    links: list[Link] = field(default_factory=list)
    final: NexusOperationInfo | None = None  # the operation as it was when it closed


@dataclass
class NexusState:
    operations: dict[int, NexusOperationInfo] = field(default_factory=dict)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    standalone: StandaloneNexus | None = None
