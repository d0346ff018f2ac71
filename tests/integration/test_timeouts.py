"""Activity and workflow timeouts of every kind, each kept to one to three seconds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import TimeoutType as ProtoTimeoutType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, RetryState, TimeoutError, TimeoutType
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history

NO_RETRY = RetryPolicy(maximum_attempts=1)


@activity.defn
async def sleep_for(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke up"


@activity.defn
async def heartbeat_then_stop(seconds: float) -> str:
    """Heartbeats once, then goes quiet for longer than the heartbeat timeout."""
    activity.heartbeat("alive")
    await asyncio.sleep(seconds)
    return "woke up"


@activity.defn
async def resumable(total: int) -> str:
    """Counts to `total`, checkpointing its progress in heartbeats; attempt 1 hangs at 3."""
    info = activity.info()
    start = info.heartbeat_details[0] if info.heartbeat_details else 0
    if info.attempt == 1:
        # One heartbeat only (the SDK sends the first at once and throttles later ones), then
        # silence: the server times this attempt out by heartbeat.
        activity.heartbeat(3)
        await asyncio.sleep(30)
    for i in range(start + 1, total + 1):
        activity.heartbeat(i)
    return f"attempt {info.attempt} resumed from {start}"


@workflow.defn
class StartToCloseWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            sleep_for, 10.0, start_to_close_timeout=timedelta(seconds=1), retry_policy=NO_RETRY
        )


@workflow.defn
class ScheduleToCloseWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            # Two seconds, so that even a slow worker starts the activity within it.
            sleep_for,
            10.0,
            schedule_to_close_timeout=timedelta(seconds=2),
        )


@workflow.defn
class ScheduleToStartWorkflow:
    @workflow.run
    async def run(self, activity_task_queue: str) -> str:
        return await workflow.execute_activity(
            sleep_for,
            0.0,
            task_queue=activity_task_queue,
            schedule_to_start_timeout=timedelta(seconds=1),
            start_to_close_timeout=timedelta(seconds=10),
        )


@workflow.defn
class NeverStartedWorkflow:
    """Only a schedule-to-close timeout, on a queue nobody polls: the unset schedule-to-start
    timeout defaults to it, and the activity times out as never started."""

    @workflow.run
    async def run(self, activity_task_queue: str) -> str:
        return await workflow.execute_activity(
            sleep_for, 0.0, task_queue=activity_task_queue, schedule_to_close_timeout=timedelta(seconds=1)
        )


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            heartbeat_then_stop,
            10.0,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=NO_RETRY,
        )


@workflow.defn
class ResumeFromHeartbeatWorkflow:
    @workflow.run
    async def run(self, total: int) -> str:
        return await workflow.execute_activity(
            resumable,
            total,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
        )


@workflow.defn
class SleepyWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "woke up"


@workflow.defn
class QuickWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "done"


ACTIVITIES = [sleep_for, heartbeat_then_stop, resumable]


def worker(client: Client, task_queue: str, workflow_class: type) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[workflow_class], activities=ACTIVITIES)


HEAD = [
    "WORKFLOW_EXECUTION_STARTED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "ACTIVITY_TASK_SCHEDULED",
]
TAIL = [
    "ACTIVITY_TASK_TIMED_OUT",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_FAILED",
]


async def activity_timeout(
    client: Client,
    task_queue: str,
    workflow_id: str,
    workflow_class: type,
    *args: object,
    started: bool = True,
) -> tuple[ActivityError, TimeoutError]:
    """Run the workflow to its failure; return the ActivityError and its TimeoutError cause."""
    async with worker(client, task_queue, workflow_class):
        handle = await client.start_workflow(
            workflow_class.run,  # type: ignore[attr-defined]
            args=args,
            id=workflow_id,
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    timeout_error = activity_error.cause
    assert isinstance(timeout_error, TimeoutError)
    # The started event of an activity that did not complete is written along with its timeout.
    middle = ["ACTIVITY_TASK_STARTED"] if started else []
    assert await event_types(handle) == HEAD + middle + TAIL
    (timed_out,) = await events_of_type(handle, "ACTIVITY_TASK_TIMED_OUT")
    failure = timed_out.activity_task_timed_out_event_attributes.failure
    assert failure.message == timeout_error.message
    assert failure.source == "Server"
    await save_history(handle, f"timeout_{workflow_class.__name__}")
    return activity_error, timeout_error


async def test_start_to_close_timeout(client: Client, task_queue: str, workflow_id: str) -> None:
    activity_error, timeout_error = await activity_timeout(
        client, task_queue, workflow_id, StartToCloseWorkflow
    )
    assert timeout_error.type == TimeoutType.START_TO_CLOSE
    assert timeout_error.message == "activity StartToClose timeout"
    assert activity_error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED


async def test_schedule_to_close_timeout(client: Client, task_queue: str, workflow_id: str) -> None:
    activity_error, timeout_error = await activity_timeout(
        client, task_queue, workflow_id, ScheduleToCloseWorkflow
    )
    assert timeout_error.type == TimeoutType.SCHEDULE_TO_CLOSE
    # The reference says "Not enough time to schedule next retry before activity
    # ScheduleToClose timeout, giving up retrying" here (the attempt's own start-to-close,
    # which defaults to the schedule-to-close, ran out and no retry fits); a server that
    # fires the schedule-to-close timer first says "activity ScheduleToClose timeout".
    assert "ScheduleToClose timeout" in timeout_error.message
    assert activity_error.retry_state == RetryState.TIMEOUT


async def test_schedule_to_start_timeout(client: Client, task_queue: str, workflow_id: str) -> None:
    # Nobody polls this task queue, so the activity is never picked up.
    unpolled = f"unpolled-{uuid.uuid4()}"
    activity_error, timeout_error = await activity_timeout(
        client, task_queue, workflow_id, ScheduleToStartWorkflow, unpolled, started=False
    )
    assert timeout_error.type == TimeoutType.SCHEDULE_TO_START
    assert timeout_error.message == "activity ScheduleToStart timeout"
    # A schedule-to-start timeout is never retried.
    assert activity_error.retry_state == RetryState.TIMEOUT


async def test_a_never_started_activity_with_only_schedule_to_close_times_out_schedule_to_start(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    unpolled = f"unpolled-{uuid.uuid4()}"
    activity_error, timeout_error = await activity_timeout(
        client, task_queue, workflow_id, NeverStartedWorkflow, unpolled, started=False
    )
    assert timeout_error.type == TimeoutType.SCHEDULE_TO_START
    assert timeout_error.message == "activity ScheduleToStart timeout"
    assert activity_error.retry_state == RetryState.TIMEOUT


async def test_heartbeat_timeout(client: Client, task_queue: str, workflow_id: str) -> None:
    activity_error, timeout_error = await activity_timeout(
        client, task_queue, workflow_id, HeartbeatTimeoutWorkflow
    )
    assert timeout_error.type == TimeoutType.HEARTBEAT
    assert timeout_error.message == "activity Heartbeat timeout"
    assert activity_error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    # The last heartbeat's details travel with the timeout.
    assert list(timeout_error.last_heartbeat_details) == ["alive"]


async def test_heartbeat_details_handed_to_next_attempt(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with worker(client, task_queue, ResumeFromHeartbeatWorkflow):
        handle = await client.start_workflow(
            ResumeFromHeartbeatWorkflow.run, 5, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "attempt 2 resumed from 3"
    (started,) = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    attrs = started.activity_task_started_event_attributes
    assert attrs.attempt == 2
    assert attrs.last_failure.message == "activity Heartbeat timeout"
    assert attrs.last_failure.timeout_failure_info.timeout_type == (ProtoTimeoutType.TIMEOUT_TYPE_HEARTBEAT)
    await save_history(handle, "timeout_heartbeat_resume")


@pytest.mark.parametrize(
    ("kind", "retry_state"),
    [
        ("execution", RetryState.TIMEOUT),
        # The reference reports a run timeout with no retry policy this way.
        ("run", RetryState.RETRY_POLICY_NOT_SET),
    ],
    ids=["execution", "run"],
)
async def test_workflow_timeout(
    client: Client, task_queue: str, workflow_id: str, kind: str, retry_state: RetryState
) -> None:
    timeout = {f"{kind}_timeout": timedelta(seconds=2)}
    async with worker(client, task_queue, SleepyWorkflow):
        handle = await client.start_workflow(
            SleepyWorkflow.run, 30.0, id=workflow_id, task_queue=task_queue, **timeout
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    cause = exc_info.value.cause
    assert isinstance(cause, TimeoutError)
    assert cause.type == TimeoutType.START_TO_CLOSE
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.TIMED_OUT
    assert desc.close_time is not None
    types = await event_types(handle)
    # Normally [STARTED, WT_SCHEDULED, WT_STARTED, WT_COMPLETED, TIMER_STARTED, TIMED_OUT]; on a
    # loaded machine the timeout can beat the first workflow task, whose (uncompleted) started
    # event is then not written: [STARTED, WT_SCHEDULED, TIMED_OUT].
    assert types[:2] == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED"]
    assert types[-1] == "WORKFLOW_EXECUTION_TIMED_OUT"
    assert types.count("WORKFLOW_EXECUTION_TIMED_OUT") == 1
    (timed_out,) = await events_of_type(handle, "WORKFLOW_EXECUTION_TIMED_OUT")
    assert timed_out.workflow_execution_timed_out_event_attributes.retry_state == retry_state
    await save_history(handle, f"timeout_workflow_{kind}")


async def test_workflow_task_timeout(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await client.start_workflow(
        QuickWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
        task_timeout=timedelta(seconds=1),
    )
    # Take the first workflow task with a raw poll and never answer it.
    poll = await client.workflow_service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            identity="silent-poller",
        )
    )
    assert poll.workflow_execution == WorkflowExecution(workflow_id=workflow_id, run_id=handle.result_run_id)
    # After the task timeout the server hands the task out again; a real worker completes it.
    async with worker(client, task_queue, QuickWorkflow):
        assert await handle.result() == "done"
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_TIMED_OUT",
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    (timed_out,) = await events_of_type(handle, "WORKFLOW_TASK_TIMED_OUT")
    attrs = timed_out.workflow_task_timed_out_event_attributes
    assert attrs.timeout_type == ProtoTimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    assert (attrs.scheduled_event_id, attrs.started_event_id) == (2, 3)
    await save_history(handle, "timeout_workflow_task")
