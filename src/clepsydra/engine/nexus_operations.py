"""Nexus operations on the caller's side: scheduled by a workflow's command, started by a
request to the handler, closed by the handler's answer, its completion callback, a
timeout or a cancellation.

The requests themselves leave the engine as transfer tasks (NEXUS_START, NEXUS_CANCEL)
that the service carries out after the commit; it brings back what the handler said
(`Outcome`) and records it here, in the same write that deletes the task. A request that
failed in a way worth retrying leaves no event: the attempt, its failure and the time of
the next one live in mutable state (and in describe), and a NEXUS_RETRY timer sends the
request again, with exponential backoff, until the operation's schedule-to-close timeout.

Events from the handler's side arrive from outside the workflow's decisions, so they
are buffered while a workflow task is in flight, like an activity's result. Cancel requests
are in nexus_cancels.py, resets in nexus_rebuild.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.api.command.v1 import ScheduleNexusOperationCommandAttributes
from temporalio.api.common.v1 import Link, Payload
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import (
    CanceledFailureInfo,
    Failure,
    NexusOperationFailureInfo,
    TimeoutFailureInfo,
)
from temporalio.api.history.v1 import (
    NexusOperationCanceledEventAttributes,
    NexusOperationCompletedEventAttributes,
    NexusOperationFailedEventAttributes,
    NexusOperationScheduledEventAttributes,
    NexusOperationStartedEventAttributes,
    NexusOperationTimedOutEventAttributes,
)
from temporalio.api.sdk.v1 import UserMetadata

from clepsydra.engine import limits
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_state import (
    CancelState,
    NexusOperationInfo,
    NexusState,
    OperationState,
)
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask, TransferKind, TransferTask
from clepsydra.engine.workflow_task import CommandError

Cause = WorkflowTaskFailedCause
BAD_SCHEDULE = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES
BAD_CANCEL = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES
MAX_PENDING = 30
MAX_NAME_LENGTH = 1000
MAX_HEADER_SIZE = 8192
DISALLOWED_HEADERS = frozenset({"connection", "content-length", "content-type", "host", "user-agent"})
# Each request waits this long for the handler's answer at most; under the minimum left
# before a timeout, no request is sent and the operation times out.
REQUEST_TIMEOUT = timedelta(seconds=10)
MIN_REQUEST_TIMEOUT = timedelta(milliseconds=1500)
RETRY_INITIAL_INTERVAL = timedelta(seconds=1)
RETRY_MAXIMUM_INTERVAL = timedelta(hours=1)
RETRY_BACKOFF_COEFFICIENT = 2.0
UNSUCCESSFUL = "nexus operation completed unsuccessfully"


# -- what the handler said -----------------------------------------------------------------


@dataclass(frozen=True)
class Succeeded:
    """The operation's result: in the start request's answer, or from its callback."""

    result: Payload | None
    links: Sequence[Link] = ()


@dataclass(frozen=True)
class Started:
    """The handler started the operation asynchronously; a callback will say how it ended."""

    token: str
    links: Sequence[Link] = ()


@dataclass(frozen=True)
class Failed:
    """The request (or the operation) failed. `retryable`: the request may be sent again;
    `canceled`: the operation ended canceled rather than failed."""

    failure: Failure
    retryable: bool = False
    canceled: bool = False


Outcome = Succeeded | Started | Failed


def nexus_of(state: ExecutionState) -> NexusState:
    if state.nexus is None:
        state.nexus = NexusState()
    return state.nexus


def pending(state: ExecutionState, scheduled_event_id: int) -> NexusOperationInfo | None:
    return None if state.nexus is None else state.nexus.operations.get(scheduled_event_id)


# -- commands --------------------------------------------------------------------------------


def schedule(
    m: Mutation,
    completed_event_id: int,
    command: ScheduleNexusOperationCommandAttributes,
    endpoint_ids: Mapping[str, str],
    user_metadata: UserMetadata | None = None,
) -> None:
    """ScheduleNexusOperation: the Scheduled event, its timeout and the first start request.
    `endpoint_ids`: the id of each endpoint the task's commands name, where one exists."""
    s = m.state
    endpoint_id = endpoint_ids.get(command.endpoint)
    if endpoint_id is None:
        raise _bad(f"endpoint {_quoted(command.endpoint)} not found")
    if len(command.service.encode()) > MAX_NAME_LENGTH:
        raise _bad(
            f"ScheduleNexusOperationCommandAttributes.Service exceeds length limit of {MAX_NAME_LENGTH}"
        )
    if len(command.operation.encode()) > MAX_NAME_LENGTH:
        raise _bad(
            f"ScheduleNexusOperationCommandAttributes.Operation exceeds length limit of {MAX_NAME_LENGTH}"
        )
    for name in ("schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout"):
        if getattr(command, name).ToTimedelta() < timedelta(0):
            raise _bad(
                f"ScheduleNexusOperationCommandAttributes.{_camel(name)} is invalid: negative duration"
            )
    limits.check_command_blob(
        command.input.ByteSize(), BAD_SCHEDULE, "ScheduleNexusOperationCommandAttributes.Input"
    )
    header: dict[str, str] = {}
    for key, value in command.nexus_header.items():
        if key.lower() in DISALLOWED_HEADERS:
            raise _bad(
                "ScheduleNexusOperationCommandAttributes.NexusHeader contains a disallowed header key: "
                f"{_quoted(key)}"
            )
        header[key.lower()] = value
    if sum(len(k) + len(v) for k, v in header.items()) > MAX_HEADER_SIZE:
        raise _bad("ScheduleNexusOperationCommandAttributes.NexusHeader exceeds size limit")
    nexus = nexus_of(s)
    if len(nexus.operations) >= MAX_PENDING:
        raise CommandError(
            Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_NEXUS_OPERATIONS_LIMIT_EXCEEDED,
            f"workflow has reached the pending nexus operation limit of {MAX_PENDING} for this namespace",
        )
    attributes = NexusOperationScheduledEventAttributes(
        endpoint=command.endpoint,
        endpoint_id=endpoint_id,
        service=command.service,
        operation=command.operation,
        input=command.input,
        nexus_header=header,
        workflow_task_completed_event_id=completed_event_id,
        request_id=m.new_id(),
    )
    # The operation may not outlive the run: its timeout is trimmed to the run's.
    schedule_to_close = command.schedule_to_close_timeout.ToTimedelta()
    run_timeout = s.start.workflow_run_timeout.ToTimedelta()
    if run_timeout and (not schedule_to_close or schedule_to_close > run_timeout):
        schedule_to_close = run_timeout
    if schedule_to_close:
        attributes.schedule_to_close_timeout.FromTimedelta(schedule_to_close)
    secondary: dict[str, timedelta] = {}
    for name in ("schedule_to_start_timeout", "start_to_close_timeout"):
        timeout = getattr(command, name).ToTimedelta()
        if timeout:
            secondary[name] = min(timeout, schedule_to_close or timeout)
            getattr(attributes, name).FromTimedelta(secondary[name])
    event = m.add_event(EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, attributes)
    if user_metadata is not None:
        event.user_metadata.CopyFrom(user_metadata)
    info = NexusOperationInfo(
        scheduled_event_id=event.event_id,
        endpoint=command.endpoint,
        endpoint_id=endpoint_id,
        service=command.service,
        operation=command.operation,
        request_id=attributes.request_id,
        scheduled_time=m.now,
        input=command.input if command.HasField("input") else None,
        header=header,
        schedule_to_close_timeout=schedule_to_close,
        schedule_to_start_timeout=secondary.get("schedule_to_start_timeout", timedelta(0)),
        start_to_close_timeout=secondary.get("start_to_close_timeout", timedelta(0)),
    )
    nexus.operations[info.scheduled_event_id] = info
    for timeout, timeout_type in (
        (schedule_to_close, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE),
        (info.schedule_to_start_timeout, TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START),
    ):
        if timeout:
            m.add_timer(
                TimerTask(TimerKind.NEXUS_TIMEOUT, m.now + timeout, event.event_id, timeout_type=timeout_type)
            )
    m.add_transfer(TransferTask(TransferKind.NEXUS_START, info.scheduled_event_id))


# -- the start request and its answer --------------------------------------------------------


def startable(state: ExecutionState, scheduled_event_id: int) -> NexusOperationInfo | None:
    """The operation, if a start request is due for it now."""
    info = pending(state, scheduled_event_id) if state.running else None
    if info is None or info.state != OperationState.PENDING_NEXUS_OPERATION_STATE_SCHEDULED:
        return None
    return info


def request_timeout(info: NexusOperationInfo, now: datetime) -> timedelta | None:
    """How long the next request may wait for its answer; None if too little time is left."""
    timeout = REQUEST_TIMEOUT
    # The schedule-to-start timeout comes first: it is no longer than the schedule-to-close one.
    first = info.schedule_to_start_timeout or info.schedule_to_close_timeout
    if first:
        timeout = min(timeout, info.scheduled_time + first - now)
    return timeout if timeout >= MIN_REQUEST_TIMEOUT else None


def record_start(m: Mutation, scheduled_event_id: int, attempt: int, outcome: Outcome | None) -> None:
    """What the start request of `attempt` brought back; None: there was no time left to send it."""
    info = startable(m.state, scheduled_event_id)
    if info is None or info.attempt != attempt:
        return  # closed, or timed out, while the request was under way
    if outcome is None:
        first = TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START if info.schedule_to_start_timeout else None
        _time_out(m, info, first or TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)
        return
    info.last_attempt_complete_time = m.now
    match outcome:
        case Succeeded():
            _complete(m, info, outcome)
        case Started():
            _start(m, info, outcome)
        case Failed(retryable=True):
            info.last_attempt_failure = outcome.failure
            info.state = OperationState.PENDING_NEXUS_OPERATION_STATE_BACKING_OFF
            info.next_attempt_schedule_time = m.now + backoff(info.attempt)
            m.add_timer(
                TimerTask(TimerKind.NEXUS_RETRY, info.next_attempt_schedule_time, scheduled_event_id, attempt)
            )
            m.touch()
        case Failed():
            _close_unsuccessfully(m, info, outcome)


def backoff(attempt: int) -> timedelta:
    backoff = RETRY_INITIAL_INTERVAL * RETRY_BACKOFF_COEFFICIENT ** (attempt - 1)
    return min(backoff, RETRY_MAXIMUM_INTERVAL)


def _start(m: Mutation, info: NexusOperationInfo, started: Started) -> None:
    event = m.add_external_event(
        EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED,
        NexusOperationStartedEventAttributes(
            scheduled_event_id=info.scheduled_event_id,
            operation_id=started.token,
            operation_token=started.token,
            request_id=info.request_id,
        ),
    )
    event.links.extend(started.links)
    info.state = OperationState.PENDING_NEXUS_OPERATION_STATE_STARTED
    info.operation_token = started.token
    info.started_time = m.now
    info.last_attempt_failure = None
    info.next_attempt_schedule_time = None
    if info.start_to_close_timeout:
        m.add_timer(
            TimerTask(
                TimerKind.NEXUS_TIMEOUT,
                m.now + info.start_to_close_timeout,
                info.scheduled_event_id,
                timeout_type=TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
            )
        )
    if info.cancel is not None:
        send_cancel(m, info)


# -- how it ends -----------------------------------------------------------------------------


def complete(
    m: Mutation, scheduled_event_id: int, request_id: str, outcome: Succeeded | Failed, token: str
) -> bool:
    """The operation's completion callback (for an operation started asynchronously, or
    whose start answer has not been recorded yet); False if there is no such operation."""
    info = pending(m.state, scheduled_event_id) if m.state.running else None
    if info is None or info.request_id != request_id:
        return False
    if not info.started:  # the completion overtook the answer to the start request
        _start(m, info, Started(token))
    if isinstance(outcome, Succeeded):
        _complete(m, info, outcome)
    else:
        _close_unsuccessfully(m, info, outcome)
    return True


def _complete(m: Mutation, info: NexusOperationInfo, succeeded: Succeeded) -> None:
    attributes = NexusOperationCompletedEventAttributes(
        scheduled_event_id=info.scheduled_event_id, request_id=info.request_id
    )
    if succeeded.result is not None:
        attributes.result.CopyFrom(succeeded.result)
    event = m.add_external_event(EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED, attributes)
    event.links.extend(succeeded.links)
    _remove(m, info)


def _close_unsuccessfully(m: Mutation, info: NexusOperationInfo, failed: Failed) -> None:
    failure = operation_failure(info, failed.failure)
    if failed.canceled:
        m.add_external_event(
            EventType.EVENT_TYPE_NEXUS_OPERATION_CANCELED,
            NexusOperationCanceledEventAttributes(
                scheduled_event_id=info.scheduled_event_id, failure=failure, request_id=info.request_id
            ),
        )
    else:
        m.add_external_event(
            EventType.EVENT_TYPE_NEXUS_OPERATION_FAILED,
            NexusOperationFailedEventAttributes(
                scheduled_event_id=info.scheduled_event_id, failure=failure, request_id=info.request_id
            ),
        )
    _remove(m, info)


def _time_out(m: Mutation, info: NexusOperationInfo, timeout_type: TimeoutType.ValueType) -> None:
    cause = Failure(
        message="operation timed out", timeout_failure_info=TimeoutFailureInfo(timeout_type=timeout_type)
    )
    m.add_external_event(
        EventType.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT,
        NexusOperationTimedOutEventAttributes(
            scheduled_event_id=info.scheduled_event_id,
            failure=operation_failure(info, cause),
            request_id=info.request_id,
        ),
    )
    _remove(m, info)


def operation_failure(info: NexusOperationInfo, cause: Failure) -> Failure:
    """The failure a closed operation reports: its own, wrapping what caused it."""
    return Failure(
        message=UNSUCCESSFUL,
        cause=cause,
        nexus_operation_execution_failure_info=NexusOperationFailureInfo(
            scheduled_event_id=info.scheduled_event_id,
            endpoint=info.endpoint,
            service=info.service,
            operation=info.operation,
            operation_id=info.operation_token,
            operation_token=info.operation_token,
        ),
    )


def canceled_failure() -> Failure:
    return Failure(message="operation canceled", canceled_failure_info=CanceledFailureInfo())


def _remove(m: Mutation, info: NexusOperationInfo) -> None:
    nexus = nexus_of(m.state)
    nexus.operations.pop(info.scheduled_event_id, None)
    if nexus.standalone is not None:  # a standalone operation is described after it closes too
        nexus.standalone.final = info
    m.touch()


def send_cancel(m: Mutation, info: NexusOperationInfo) -> None:
    """Send the operation's cancel request (again) to its handler."""
    assert info.cancel is not None
    info.cancel.state = CancelState.NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED
    info.cancel.attempt += 1
    m.add_transfer(TransferTask(TransferKind.NEXUS_CANCEL, info.scheduled_event_id))


# -- timers ----------------------------------------------------------------------------------


def on_timer(m: Mutation, task: TimerTask) -> None:
    """A timeout or a start request's backoff came due (cancel requests: nexus_cancels.py)."""
    info = timer_subject(m.state, task)
    if info is None:
        return
    match task.kind:
        case TimerKind.NEXUS_TIMEOUT:
            _time_out(m, info, task.timeout_type)
        case TimerKind.NEXUS_RETRY:
            info.state = OperationState.PENDING_NEXUS_OPERATION_STATE_SCHEDULED
            info.attempt += 1
            info.next_attempt_schedule_time = None
            m.add_transfer(TransferTask(TransferKind.NEXUS_START, info.scheduled_event_id))
            m.touch()


def timer_subject(state: ExecutionState, task: TimerTask) -> NexusOperationInfo | None:
    """The operation a timer still concerns, if any."""
    info = pending(state, task.event_id) if state.running else None
    if info is None:
        return None
    if task.kind == TimerKind.NEXUS_RETRY:
        backing_off = info.state == OperationState.PENDING_NEXUS_OPERATION_STATE_BACKING_OFF
        return info if backing_off and info.attempt == task.attempt else None
    # A schedule-to-start timeout is moot once the operation started, a start-to-close one before.
    if task.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START and info.started:
        return None
    if task.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE and not info.started:
        return None
    return info


def _bad(message: str) -> CommandError:
    # The reference names the cause in the message the worker sees.
    return CommandError(BAD_SCHEDULE, f"BadScheduleNexusOperationAttributes: {message}")


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
