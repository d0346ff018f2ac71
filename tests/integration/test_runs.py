"""Runs that follow runs: continue-as-new, workflow retries and cron schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import ContinueAsNewInitiator, RetryState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type, save_history


@workflow.defn
class CountingWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        if n < 2:
            workflow.continue_as_new(n + 1)
        return n


@workflow.defn
class SecondAttemptWorkflow:
    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt < 2:
            raise ApplicationError("first attempt fails")
        return workflow.info().attempt


@workflow.defn
class AlwaysFailsWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError(f"attempt {workflow.info().attempt} fails")


@workflow.defn
class TickWorkflow:
    @workflow.run
    async def run(self) -> int:
        previous = workflow.get_last_completion_result(int)
        return (previous or 0) + 1


async def test_continue_as_new_chains_runs_under_one_workflow_id(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CountingWorkflow]):
        handle = await client.start_workflow(CountingWorkflow.run, 0, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == 2
    first = client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)
    assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    (continued,) = await events_of_type(first, "WORKFLOW_EXECUTION_CONTINUED_AS_NEW")
    second_run = continued.workflow_execution_continued_as_new_event_attributes.new_execution_run_id

    last = client.get_workflow_handle(workflow_id)
    described = await last.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED
    assert described.run_id not in (handle.first_execution_run_id, second_run)
    (started,) = await events_of_type(last, "WORKFLOW_EXECUTION_STARTED")
    attributes = started.workflow_execution_started_event_attributes
    assert attributes.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW
    assert attributes.first_execution_run_id == handle.first_execution_run_id
    assert attributes.continued_execution_run_id != ""
    await save_history(last, "continue_as_new_last")


async def test_a_failed_run_is_retried_as_a_new_run(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[SecondAttemptWorkflow]):
        handle = await client.start_workflow(
            SecondAttemptWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )
        assert await handle.result() == 2
    first = client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)
    assert (await first.describe()).status == WorkflowExecutionStatus.FAILED
    (failed,) = await events_of_type(first, "WORKFLOW_EXECUTION_FAILED")
    failed_attributes = failed.workflow_execution_failed_event_attributes
    assert failed_attributes.retry_state == RetryState.RETRY_STATE_IN_PROGRESS
    assert failed_attributes.new_execution_run_id != ""

    second = client.get_workflow_handle(workflow_id, run_id=failed_attributes.new_execution_run_id)
    (started,) = await events_of_type(second, "WORKFLOW_EXECUTION_STARTED")
    attributes = started.workflow_execution_started_event_attributes
    assert attributes.attempt == 2
    assert attributes.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
    assert attributes.continued_failure.message == "first attempt fails"
    assert attributes.retry_policy.maximum_interval.ToTimedelta() == timedelta(seconds=10)


async def test_retries_stop_at_maximum_attempts(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[AlwaysFailsWorkflow]):
        handle = await client.start_workflow(
            AlwaysFailsWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
        )
        with pytest.raises(WorkflowFailureError) as error:
            await handle.result()
    assert isinstance(error.value.cause, ApplicationError)
    assert error.value.cause.message == "attempt 2 fails"
    (failed,) = await events_of_type(client.get_workflow_handle(workflow_id), "WORKFLOW_EXECUTION_FAILED")
    attributes = failed.workflow_execution_failed_event_attributes
    assert attributes.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    assert attributes.new_execution_run_id == ""


async def test_cron_runs_again_with_the_last_result(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TickWorkflow]):
        handle = await client.start_workflow(
            TickWorkflow.run, id=workflow_id, task_queue=task_queue, cron_schedule="@every 1s"
        )
        first = client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)
        (started,) = await events_of_type(first, "WORKFLOW_EXECUTION_STARTED")
        attributes = started.workflow_execution_started_event_attributes
        assert attributes.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        assert attributes.cron_schedule == "@every 1s"
        # Follow the chain: each run returns one more than the run before it.
        run_id = handle.first_execution_run_id
        for expected in (1, 2):
            run = client.get_workflow_handle(workflow_id, run_id=run_id)
            async for event in run.fetch_history_events(wait_new_event=True):
                if event.HasField("workflow_execution_completed_event_attributes"):
                    completed = event.workflow_execution_completed_event_attributes
                    assert completed.result.payloads[0].data == str(expected).encode()
                    run_id = completed.new_execution_run_id
            assert run_id
        await client.get_workflow_handle(workflow_id).terminate("enough")
    assert (
        await client.get_workflow_handle(workflow_id).describe()
    ).status == WorkflowExecutionStatus.TERMINATED
