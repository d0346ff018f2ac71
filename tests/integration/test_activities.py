"""Activities: chains, fan-out, retries and non-retryable failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.worker import Worker

from tests.integration.helpers import event_types, events_of_type, save_history

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0)


@activity.defn
async def add_one(x: int) -> int:
    return x + 1


@activity.defn
async def double(x: int) -> int:
    return x * 2


@activity.defn
async def square(x: int) -> int:
    return x * x


@activity.defn
async def flaky(x: int) -> str:
    """Fails on attempts 1 and 2, succeeds on attempt 3."""
    attempt = activity.info().attempt
    if attempt < 3:
        raise ApplicationError(f"flaky failure on attempt {attempt}", type="Flaky")
    return f"{x} on attempt {attempt}"


@activity.defn
async def fail_non_retryable() -> None:
    raise ApplicationError("this can never work", type="Fatal", non_retryable=True)


@activity.defn
async def fail_with_type(error_type: str) -> None:
    raise ApplicationError(f"failed with {error_type}", type=error_type)


@workflow.defn
class ChainWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        timeout = timedelta(seconds=10)
        a = await workflow.execute_activity(add_one, x, start_to_close_timeout=timeout)
        b = await workflow.execute_activity(double, a, start_to_close_timeout=timeout)
        return await workflow.execute_activity(square, b, start_to_close_timeout=timeout)


@workflow.defn
class ParallelWorkflow:
    @workflow.run
    async def run(self, xs: list[int]) -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(square, x, start_to_close_timeout=timedelta(seconds=10))
                    for x in xs
                )
            )
        )


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self, x: int) -> str:
        return await workflow.execute_activity(
            flaky, x, start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY
        )


@workflow.defn
class NonRetryableWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            fail_non_retryable,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=FAST_RETRY,
        )


@workflow.defn
class NonRetryableTypeWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            fail_with_type,
            "Fatal",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                non_retryable_error_types=["Fatal"],
            ),
        )


@workflow.defn
class ExhaustedWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            fail_with_type,
            "Transient",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
                maximum_attempts=3,
            ),
        )


ALL_ACTIVITIES = [add_one, double, square, flaky, fail_non_retryable, fail_with_type]


def worker(client: Client, task_queue: str, workflow_class: type) -> Worker:
    # One workflow class per worker: each one costs a sandbox validation when the worker is built.
    return Worker(client, task_queue=task_queue, workflows=[workflow_class], activities=ALL_ACTIVITIES)


async def test_chain_of_three_activities(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, ChainWorkflow):
        handle = await client.start_workflow(ChainWorkflow.run, 4, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == ((4 + 1) * 2) ** 2
    types = await event_types(handle)
    assert types.count("ACTIVITY_TASK_SCHEDULED") == 3
    assert types.count("ACTIVITY_TASK_STARTED") == 3
    assert types.count("ACTIVITY_TASK_COMPLETED") == 3
    assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    scheduled = await events_of_type(handle, "ACTIVITY_TASK_SCHEDULED")
    assert [e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled] == [
        "add_one",
        "double",
        "square",
    ]
    await save_history(handle, "activity_chain")


async def test_parallel_activities(client: Client, task_queue: str, workflow_id: str) -> None:
    xs = [1, 2, 3, 4, 5]
    async with worker(client, task_queue, ParallelWorkflow):
        handle = await client.start_workflow(ParallelWorkflow.run, xs, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == [1, 4, 9, 16, 25]
    types = await event_types(handle)
    assert types.count("ACTIVITY_TASK_SCHEDULED") == 5
    assert types.count("ACTIVITY_TASK_COMPLETED") == 5
    # All five are scheduled by the first workflow task, before any of them completes.
    first_completed = types.index("ACTIVITY_TASK_STARTED")
    assert types[:first_completed].count("ACTIVITY_TASK_SCHEDULED") == 5
    await save_history(handle, "activity_parallel")


async def test_activity_retried_until_success(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, FlakyWorkflow):
        handle = await client.start_workflow(FlakyWorkflow.run, 7, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "7 on attempt 3"
    types = await event_types(handle)
    # Retries are not in the history: one scheduled, one started (the last attempt), one completed.
    assert types.count("ACTIVITY_TASK_SCHEDULED") == 1
    assert types.count("ACTIVITY_TASK_STARTED") == 1
    assert types.count("ACTIVITY_TASK_COMPLETED") == 1
    assert "ACTIVITY_TASK_FAILED" not in types
    (started,) = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    attrs = started.activity_task_started_event_attributes
    assert attrs.attempt == 3
    # The last failure before the successful attempt is kept on the started event.
    assert attrs.last_failure.message == "flaky failure on attempt 2"
    assert attrs.last_failure.application_failure_info.type == "Flaky"
    await save_history(handle, "activity_retry_success")


@pytest.mark.parametrize(
    ("workflow_class", "message", "scenario"),
    [
        (NonRetryableWorkflow, "this can never work", "activity_non_retryable"),
        (NonRetryableTypeWorkflow, "failed with Fatal", "activity_non_retryable_type"),
    ],
    ids=["non_retryable_flag", "non_retryable_error_types"],
)
async def test_non_retryable_error_fails_workflow(
    client: Client,
    task_queue: str,
    workflow_id: str,
    workflow_class: type,
    message: str,
    scenario: str,
) -> None:
    async with worker(client, task_queue, workflow_class):
        handle = await client.start_workflow(
            workflow_class.run,  # type: ignore[attr-defined]
            id=workflow_id,
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "Fatal"
    assert cause.message == message
    # Only one attempt was made.
    (started,) = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    assert started.activity_task_started_event_attributes.attempt == 1
    types = await event_types(handle)
    assert types.count("ACTIVITY_TASK_FAILED") == 1
    assert types[-1] == "WORKFLOW_EXECUTION_FAILED"
    await save_history(handle, scenario)


async def test_maximum_attempts_exhausted(client: Client, task_queue: str, workflow_id: str) -> None:
    async with worker(client, task_queue, ExhaustedWorkflow):
        handle = await client.start_workflow(ExhaustedWorkflow.run, id=workflow_id, task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as exc_info:
            await handle.result()
    activity_error = exc_info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "Transient"
    assert activity_error.cause.message == "failed with Transient"
    (started,) = await events_of_type(handle, "ACTIVITY_TASK_STARTED")
    assert started.activity_task_started_event_attributes.attempt == 3
    (failed,) = await events_of_type(handle, "ACTIVITY_TASK_FAILED")
    attrs = failed.activity_task_failed_event_attributes
    assert attrs.failure.message == "failed with Transient"
    await save_history(handle, "activity_max_attempts")
