"""The caller's Nexus operations and the handler's completion callbacks, driven on the pure
engine with a clock the test moves: what each answer of the handler writes to history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    RequestCancelNexusOperationCommandAttributes,
    ScheduleNexusOperationCommandAttributes,
)
from temporalio.api.common.v1 import Callback, Payload
from temporalio.api.enums.v1 import (
    CallbackState,
    CommandType,
    EventType,
    NexusOperationCancellationState,
    PendingNexusOperationState,
    TimeoutType,
    WorkflowExecutionStatus,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)

from clepsydra.engine import (
    commands,
    nexus_callbacks,
    nexus_cancels,
    nexus_operations,
    workflow,
    workflow_task,
)
from clepsydra.engine.fire import fire, is_live
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_operations import Failed, Started, Succeeded
from clepsydra.engine.nexus_state import NexusOperationInfo
from clepsydra.engine.tasks import TimerKind, TimerTask, TransferKind
from clepsydra.engine.workflow_task import CommandError
from tests.unit.engine_helpers import Run

ENDPOINTS = {"greeter": "endpoint-id"}
RESULT = Payload(data=b'"hi"')
SCHEDULED = [
    "WORKFLOW_EXECUTION_STARTED",
    *["WORKFLOW_TASK_" + s for s in ("SCHEDULED", "STARTED", "COMPLETED")],
]


def schedule(schedule_to_close: float = 0, **header: str) -> Command:
    attributes = ScheduleNexusOperationCommandAttributes(
        endpoint="greeter",
        service="Greeter",
        operation="echo",
        input=Payload(data=b'"x"'),
        nexus_header=header,
    )
    if schedule_to_close:
        attributes.schedule_to_close_timeout.FromTimedelta(timedelta(seconds=schedule_to_close))
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION,
        schedule_nexus_operation_command_attributes=attributes,
    )


def cancel(scheduled_event_id: int = 5) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION,
        request_cancel_nexus_operation_command_attributes=RequestCancelNexusOperationCommandAttributes(
            scheduled_event_id=scheduled_event_id
        ),
    )


def decide(run: Run, *cmds: Command) -> None:
    """One workflow task: started, then completed with these commands."""
    run.start_workflow_task()
    task = run.state.workflow_task
    assert task is not None

    def change(m: Mutation) -> None:
        completed = workflow_task.complete(m, task, RespondWorkflowTaskCompletedRequest())
        commands.apply(m, completed, list(cmds), "worker", nexus_endpoints=ENDPOINTS)
        workflow_task.finish_completion(m, False)

    run.apply(change)


def wake(run: Run) -> None:
    """A signal, so that the workflow has a task to decide in."""
    run.apply(lambda m: workflow.signal(m, "wake", None, "client", None, ""))


def operation(run: Run, scheduled_event_id: int = 5) -> NexusOperationInfo:
    info = nexus_operations.pending(run.state, scheduled_event_id)
    assert info is not None
    return info


def scheduled_run(command: dict[str, float] | None = None, **options: object) -> Run:
    run = Run(**options)
    decide(run, schedule(**(command or {})))  # type: ignore[arg-type]
    return run


def test_scheduling_writes_the_event_and_sends_the_start_request() -> None:
    run = scheduled_run()
    assert run.types() == [*SCHEDULED, "NEXUS_OPERATION_SCHEDULED"]
    attributes = run.history[-1].nexus_operation_scheduled_event_attributes
    assert (attributes.endpoint, attributes.endpoint_id) == ("greeter", "endpoint-id")
    assert attributes.workflow_task_completed_event_id == 4 and attributes.request_id
    assert run.last is not None
    assert [(t.kind, t.event_id) for t in run.last.transfer_tasks] == [(TransferKind.NEXUS_START, 5)]
    assert nexus_operations.startable(run.state, 5) is operation(run)


def test_a_sync_result_completes_the_operation() -> None:
    run = scheduled_run()
    run.apply(nexus_operations.record_start, 5, 1, Succeeded(RESULT))
    assert run.types()[-2:] == ["NEXUS_OPERATION_COMPLETED", "WORKFLOW_TASK_SCHEDULED"]
    completed = run.history[-2].nexus_operation_completed_event_attributes
    assert (completed.scheduled_event_id, completed.result) == (5, RESULT)
    assert nexus_operations.pending(run.state, 5) is None


def test_a_failed_request_worth_retrying_backs_off_without_an_event() -> None:
    run = scheduled_run()
    failure = Failure(message="busy")
    run.apply(nexus_operations.record_start, 5, 1, Failed(failure, retryable=True))
    info = operation(run)
    assert run.types()[-1] == "NEXUS_OPERATION_SCHEDULED"
    assert info.state == PendingNexusOperationState.PENDING_NEXUS_OPERATION_STATE_BACKING_OFF
    assert info.last_attempt_failure == failure
    assert run.last is not None
    (retry,) = run.last.timer_tasks
    assert (retry.kind, retry.fire_time - run.now, retry.attempt) == (
        TimerKind.NEXUS_RETRY,
        timedelta(seconds=1),
        1,
    )

    run.advance(1)
    run.apply(fire, retry)
    assert (info.state, info.attempt) == (
        PendingNexusOperationState.PENDING_NEXUS_OPERATION_STATE_SCHEDULED,
        2,
    )
    assert [t.kind for t in run.last.transfer_tasks] == [TransferKind.NEXUS_START]
    assert not is_live(run.state, retry)
    # An answer to the first attempt arriving now changes nothing; the second backs off longer.
    run.apply(nexus_operations.record_start, 5, 1, Succeeded(RESULT))
    assert nexus_operations.pending(run.state, 5) is info
    run.apply(nexus_operations.record_start, 5, 2, Failed(failure, retryable=True))
    assert run.last.timer_tasks[0].fire_time - run.now == timedelta(seconds=2)


def test_a_refused_request_fails_the_operation_with_its_cause() -> None:
    run = scheduled_run()
    cause = Failure(message="bad input")
    run.apply(nexus_operations.record_start, 5, 1, Failed(cause))
    assert run.types()[-2:] == ["NEXUS_OPERATION_FAILED", "WORKFLOW_TASK_SCHEDULED"]
    failure = run.history[-2].nexus_operation_failed_event_attributes.failure
    assert failure.message == "nexus operation completed unsuccessfully"
    assert failure.cause == cause
    info = failure.nexus_operation_execution_failure_info
    assert (info.scheduled_event_id, info.endpoint, info.service, info.operation) == (
        5,
        "greeter",
        "Greeter",
        "echo",
    )


def test_an_async_operation_starts_then_completes_through_its_callback() -> None:
    run = scheduled_run()
    run.apply(nexus_operations.record_start, 5, 1, Started("token"))
    assert run.types()[-2:] == ["NEXUS_OPERATION_STARTED", "WORKFLOW_TASK_SCHEDULED"]
    started = run.history[-2].nexus_operation_started_event_attributes
    assert (started.operation_token, started.operation_id) == ("token", "token")
    request_id = operation(run).request_id
    assert not run.apply(nexus_operations.complete, 5, "another request", Succeeded(RESULT), "token")
    assert run.apply(nexus_operations.complete, 5, request_id, Succeeded(RESULT), "token")
    assert run.types()[-1] == "NEXUS_OPERATION_COMPLETED"


def test_a_callback_that_overtakes_the_start_answer_writes_the_start_first() -> None:
    run = scheduled_run()
    request_id = operation(run).request_id
    wake(run)
    run.start_workflow_task()  # in flight: what arrives now waits for it to end
    run.apply(nexus_operations.complete, 5, request_id, Succeeded(RESULT), "token")
    assert [e.event_type for e in run.state.buffered_events] == [
        EventType.EVENT_TYPE_NEXUS_OPERATION_STARTED,
        EventType.EVENT_TYPE_NEXUS_OPERATION_COMPLETED,
    ]
    run.apply(nexus_operations.record_start, 5, 1, Started("token"))  # too late: closed already
    assert len(run.state.buffered_events) == 2


def test_the_schedule_to_close_timeout_times_the_operation_out() -> None:
    run = scheduled_run(command={"schedule_to_close": 30})
    assert run.last is not None
    (timeout,) = [t for t in run.last.timer_tasks if t.kind == TimerKind.NEXUS_TIMEOUT]
    assert timeout.fire_time - run.now == timedelta(seconds=30)
    run.advance(30)
    run.apply(fire, timeout)
    assert run.types()[-2:] == ["NEXUS_OPERATION_TIMED_OUT", "WORKFLOW_TASK_SCHEDULED"]
    cause = run.history[-2].nexus_operation_timed_out_event_attributes.failure.cause
    assert cause.message == "operation timed out"
    assert cause.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE


def test_too_little_time_left_for_a_request_times_the_operation_out() -> None:
    run = scheduled_run(command={"schedule_to_close": 5})
    info = operation(run)
    assert nexus_operations.request_timeout(info, run.now) == timedelta(seconds=5)
    run.advance(4)
    assert nexus_operations.request_timeout(info, run.now) is None
    run.apply(nexus_operations.record_start, 5, 1, None)
    assert run.types()[-2] == "NEXUS_OPERATION_TIMED_OUT"


def test_the_timeout_is_trimmed_to_the_run_timeout() -> None:
    run = scheduled_run(workflow_run_timeout=Duration(seconds=60))
    scheduled = run.history[-1].nexus_operation_scheduled_event_attributes
    assert scheduled.schedule_to_close_timeout.ToTimedelta() == timedelta(seconds=60)


def test_a_cancel_request_waits_for_the_start_then_is_sent() -> None:
    run = scheduled_run()
    wake(run)
    decide(run, cancel())
    assert run.types()[-1] == "NEXUS_OPERATION_CANCEL_REQUESTED"
    assert run.last is not None and run.last.transfer_tasks == []
    run.apply(nexus_operations.record_start, 5, 1, Started("token"))
    assert [t.kind for t in run.last.transfer_tasks] == [TransferKind.NEXUS_CANCEL]
    cancel_info = operation(run).cancel
    assert cancel_info is not None and cancel_info.attempt == 1
    run.apply(nexus_cancels.record_cancel, 5, 1, Failed(Failure(message="busy"), retryable=True))
    assert cancel_info.state == NexusOperationCancellationState.NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF
    (retry,) = run.last.timer_tasks
    run.advance(1)
    run.apply(fire, retry)
    run.apply(nexus_cancels.record_cancel, 5, 2, None)
    # A workflow task is scheduled already (for the Started event): the news follows it.
    assert run.types()[-3:] == [
        "NEXUS_OPERATION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED",
    ]
    assert run.history[-1].worker_may_ignore
    request_id = operation(run).request_id
    run.apply(
        nexus_operations.complete,
        5,
        request_id,
        Failed(nexus_operations.canceled_failure(), canceled=True),
        "",
    )
    assert run.types()[-1] == "NEXUS_OPERATION_CANCELED"


@pytest.mark.parametrize(
    ("command", "cause", "message"),
    [
        (
            Command(
                command_type=CommandType.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION,
                schedule_nexus_operation_command_attributes=ScheduleNexusOperationCommandAttributes(
                    endpoint="x"
                ),
            ),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES,
            'BadScheduleNexusOperationAttributes: endpoint "x" not found',
        ),
        (
            schedule(**{"Content-Type": "text/plain"}),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES,
            "BadScheduleNexusOperationAttributes: ScheduleNexusOperationCommandAttributes.NexusHeader "
            'contains a disallowed header key: "Content-Type"',
        ),
        (
            cancel(99),
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES,
            "requested cancelation for a non-existing or already completed operation with scheduled "
            "event ID of 99",
        ),
    ],
)
def test_bad_commands_fail_the_workflow_task(
    command: Command, cause: WorkflowTaskFailedCause.ValueType, message: str
) -> None:
    run = Run()
    with pytest.raises(CommandError) as error:
        decide(run, command)
    assert (error.value.cause, error.value.message) == (cause, message)


def test_a_second_cancel_request_is_refused() -> None:
    run = scheduled_run()
    wake(run)
    decide(run, cancel())
    wake(run)
    with pytest.raises(CommandError, match="cancelation was already requested"):
        decide(run, cancel())


def test_a_handler_run_delivers_its_callbacks_when_it_closes_not_when_it_continues() -> None:
    request = StartWorkflowExecutionRequest(
        completion_callbacks=[Callback(nexus=Callback.Nexus(url="temporal://system"))]
    )
    run = Run(completion_callbacks=request.completion_callbacks)
    (record,) = nexus_callbacks.records(run.state)
    assert record.state == CallbackState.CALLBACK_STATE_STANDBY
    run.apply(workflow.close, WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED)
    assert run.last is not None
    assert [t.kind for t in run.last.transfer_tasks] == [TransferKind.NEXUS_CALLBACK]
    (record,) = nexus_callbacks.records(run.state)
    assert record.state == CallbackState.CALLBACK_STATE_SCHEDULED
    run.apply(nexus_callbacks.record_delivery, 0, None, run.now)
    assert nexus_callbacks.records(run.state)[0].state == CallbackState.CALLBACK_STATE_SUCCEEDED


def test_timers_of_a_closed_operation_are_moot() -> None:
    run = scheduled_run(command={"schedule_to_close": 30})
    run.apply(nexus_operations.record_start, 5, 1, Succeeded(RESULT))
    timeout = TimerTask(
        TimerKind.NEXUS_TIMEOUT, run.now, 5, timeout_type=TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
    )
    assert not is_live(run.state, timeout)
    before = len(run.history)
    run.apply(fire, timeout)
    assert len(run.history) == before


def test_a_start_to_close_timeout_runs_from_the_start() -> None:
    run = Run()
    command = schedule()
    command.schedule_nexus_operation_command_attributes.start_to_close_timeout.FromTimedelta(
        timedelta(seconds=5)
    )
    command.schedule_nexus_operation_command_attributes.schedule_to_start_timeout.FromTimedelta(
        timedelta(seconds=3)
    )
    decide(run, command)
    assert run.last is not None
    (to_start,) = run.last.timer_tasks
    assert (to_start.timeout_type, to_start.fire_time - run.now) == (
        TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
        timedelta(seconds=3),
    )
    assert nexus_operations.request_timeout(operation(run), run.now) == timedelta(seconds=3)
    run.advance(1)
    run.apply(nexus_operations.record_start, 5, 1, Started("token"))
    (to_close,) = run.last.timer_tasks
    assert (to_close.timeout_type, to_close.fire_time - run.now) == (
        TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
        timedelta(seconds=5),
    )
    assert not is_live(run.state, to_start)  # started in time
    run.advance(5)
    run.apply(fire, to_close)
    cause = run.history[-1].nexus_operation_timed_out_event_attributes.failure.cause
    assert cause.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
