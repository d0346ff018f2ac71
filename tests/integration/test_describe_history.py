"""Describing executions and reading their histories: full, paged, reversed, close event only."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import HistoryEventFilterType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
)
from temporalio.worker import Worker

from tests.integration.helpers import event_type_name, event_types, history_events, save_history


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class OneActivityWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(shout, text, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class WaitForSignalWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


ONE_ACTIVITY_HISTORY = [
    "WORKFLOW_EXECUTION_STARTED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "ACTIVITY_TASK_SCHEDULED",
    "ACTIVITY_TASK_STARTED",
    "ACTIVITY_TASK_COMPLETED",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_COMPLETED",
]


async def run_one_activity(
    client: Client, task_queue: str, workflow_id: str
) -> WorkflowHandle[OneActivityWorkflow, str]:
    async with Worker(client, task_queue=task_queue, workflows=[OneActivityWorkflow], activities=[shout]):
        handle = await client.start_workflow(
            OneActivityWorkflow.run, "hi", id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == "HI"
    return handle


async def test_describe_running_and_completed(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[WaitForSignalWorkflow]):
        handle = await client.start_workflow(
            WaitForSignalWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            memo={"owner": "tests", "answer": 42},
        )
        running = await handle.describe()
        assert running.id == workflow_id
        assert running.run_id == handle.result_run_id
        assert running.status == WorkflowExecutionStatus.RUNNING
        assert running.workflow_type == "WaitForSignalWorkflow"
        assert running.task_queue == task_queue
        assert running.start_time is not None
        assert running.close_time is None
        assert await running.memo() == {"owner": "tests", "answer": 42}

        await handle.signal(WaitForSignalWorkflow.finish)
        assert await handle.result() == "finished"

    done = await handle.describe()
    assert done.status == WorkflowExecutionStatus.COMPLETED
    assert done.workflow_type == "WaitForSignalWorkflow"
    assert done.task_queue == task_queue
    assert done.start_time == running.start_time
    assert done.close_time is not None
    assert done.close_time >= done.start_time
    assert done.execution_time is not None
    assert await done.memo() == {"owner": "tests", "answer": 42}
    assert done.history_length == len(await event_types(handle))
    await save_history(handle, "describe_signal_workflow")


async def test_one_activity_history_exact(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await run_one_activity(client, task_queue, workflow_id)
    events = await history_events(handle)
    assert [event_type_name(e) for e in events] == ONE_ACTIVITY_HISTORY
    assert [e.event_id for e in events] == list(range(1, len(ONE_ACTIVITY_HISTORY) + 1))
    started = events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "OneActivityWorkflow"
    assert started.task_queue.name == task_queue
    scheduled = events[4].activity_task_scheduled_event_attributes
    assert scheduled.activity_type.name == "shout"
    assert scheduled.workflow_task_completed_event_id == 4
    assert events[5].activity_task_started_event_attributes.scheduled_event_id == 5
    completed = events[6].activity_task_completed_event_attributes
    assert (completed.scheduled_event_id, completed.started_event_id) == (5, 6)
    assert await client.data_converter.decode(completed.result.payloads) == ["HI"]
    closed = events[-1].workflow_execution_completed_event_attributes
    assert closed.workflow_task_completed_event_id == 10
    assert await client.data_converter.decode(closed.result.payloads) == ["HI"]
    await save_history(handle, "one_activity")


async def test_history_paging(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await run_one_activity(client, task_queue, workflow_id)
    full = await history_events(handle)
    execution = WorkflowExecution(workflow_id=workflow_id, run_id=handle.result_run_id)

    pages: list[list[HistoryEvent]] = []
    token = b""
    while True:
        resp = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=execution,
                maximum_page_size=2,
                next_page_token=token,
            )
        )
        pages.append(list(resp.history.events))
        token = resp.next_page_token
        if not token:
            break
    # The reference counts the page size in event batches (the events written together), not
    # in events, and may end with an empty page: only the concatenation is fixed.
    assert len([page for page in pages if page]) > 1
    assert [e for page in pages for e in page] == full


async def test_history_reverse(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await run_one_activity(client, task_queue, workflow_id)
    full = await history_events(handle)
    execution = WorkflowExecution(workflow_id=workflow_id, run_id=handle.result_run_id)

    pages: list[list[HistoryEvent]] = []
    token = b""
    while True:
        resp = await client.workflow_service.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=client.namespace,
                execution=execution,
                maximum_page_size=3,
                next_page_token=token,
            )
        )
        pages.append(list(resp.history.events))
        token = resp.next_page_token
        if not token:
            break
    assert len([page for page in pages if page]) > 1
    assert [e for page in pages for e in page] == full[::-1]


async def test_history_close_event_filter(client: Client, task_queue: str, workflow_id: str) -> None:
    handle = await run_one_activity(client, task_queue, workflow_id)
    history = await handle.fetch_history(event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)
    (close,) = history.events
    assert event_type_name(close) == "WORKFLOW_EXECUTION_COMPLETED"
    assert close.event_id == len(ONE_ACTIVITY_HISTORY)
    assert close == (await history_events(handle))[-1]

    # The same over raw gRPC.
    resp = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
            history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        )
    )
    assert list(resp.history.events) == [close]
    assert not resp.next_page_token
