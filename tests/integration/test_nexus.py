"""Nexus operations between namespaces, with the official SDK on both sides: a caller workflow
in `default` calls operations of a service whose handlers run in a namespace of their own,
through an endpoint. Sync operations, retried and refused ones, operations backed by a
workflow (completed through the callback the server attaches to it), timeouts and
cancellation. The expectations, down to the caller's history, hold on the reference too
(CLEPSYDRA_TEST_SERVER=reference)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    CallbackState,
    EventType,
    PendingNexusOperationState,
    TaskQueueType,
    TimeoutType,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest, DeleteNexusEndpointRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
    DescribeWorkflowExecutionRequest,
    RegisterNamespaceRequest,
    ResetWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from tests.integration.helpers import event_types, history_events, save_history, wait_for_event
from tests.integration.nexus_support import (
    Call,
    Caller,
    FailingGreeting,
    Gate,
    GreeterHandler,
    Greeting,
    Seen,
    SleepingGreeting,
)
from tests.server_process import ServerProcess

Event = EventType


@dataclass
class Nexus:
    caller: Client
    handler: Client
    endpoint: str
    endpoint_id: str
    task_queue: str


@pytest.fixture(scope="module")
async def nexus(server: ServerProcess, client: Client) -> AsyncIterator[Nexus]:
    namespace = f"nexus-handlers-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=timedelta(days=1))
    )
    handler = await Client.connect(server.target, namespace=namespace)
    for _ in range(50):  # the reference takes a moment to know a new namespace everywhere
        try:
            await handler.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            break
        except Exception:
            await asyncio.sleep(0.2)
    task_queue = f"nexus-{uuid.uuid4()}"
    name = f"greeter-{uuid.uuid4().hex[:8]}"
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace=namespace, task_queue=task_queue))
    created = await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name=name, target=target))
    )
    await asyncio.sleep(1)  # as above, for the endpoint
    yield Nexus(client, handler, name, created.endpoint.id, task_queue)
    await client.operator_service.delete_nexus_endpoint(
        DeleteNexusEndpointRequest(id=created.endpoint.id, version=created.endpoint.version)
    )


@pytest.fixture
async def seen(nexus: Nexus, task_queue: str) -> AsyncIterator[Seen]:
    """Handler and caller workers running for the test."""
    seen = Seen()
    handler_worker = Worker(
        nexus.handler,
        task_queue=nexus.task_queue,
        workflows=[Greeting, FailingGreeting, SleepingGreeting, Gate],
        nexus_service_handlers=[GreeterHandler(seen)],
    )
    caller_worker = Worker(nexus.caller, task_queue=task_queue, workflows=[Caller])
    async with handler_worker, caller_worker:
        yield seen


async def call(nexus: Nexus, task_queue: str, operation: str, text: str, **options: object) -> WorkflowHandle:
    return await nexus.caller.start_workflow(
        Caller.run,
        Call(nexus.endpoint, operation, text, **options),  # type: ignore[arg-type]
        id=f"caller-{operation}-{uuid.uuid4()}",
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=60),
    )


def only(events: list[HistoryEvent], event_type: EventType.ValueType) -> HistoryEvent:
    (event,) = [e for e in events if e.event_type == event_type]
    return event


WORKFLOW_TASK = ["WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED"]


async def test_a_sync_operation_answers_in_the_start_request(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "echo", "hi")
    assert await handle.result() == "echo hi"
    await save_history(handle, "nexus_sync")
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        *WORKFLOW_TASK,
        "NEXUS_OPERATION_SCHEDULED",
        "NEXUS_OPERATION_COMPLETED",
        *WORKFLOW_TASK,
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    events = await history_events(handle)
    scheduled = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
    attributes = scheduled.nexus_operation_scheduled_event_attributes
    assert (attributes.endpoint, attributes.endpoint_id) == (nexus.endpoint, nexus.endpoint_id)
    assert (attributes.service, attributes.operation) == ("Greeter", "echo")
    assert attributes.workflow_task_completed_event_id == scheduled.event_id - 1
    assert attributes.request_id
    completed = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
    assert completed.nexus_operation_completed_event_attributes.scheduled_event_id == scheduled.event_id
    assert completed.nexus_operation_completed_event_attributes.request_id == attributes.request_id
    # What the handler was told: the request's id and deadline, and a link back to the caller.
    (headers,) = seen.headers
    assert headers["nexus-request-id"] == attributes.request_id
    assert headers["request-timeout"].endswith("s") and 0 < float(headers["request-timeout"][:-1]) <= 10
    assert f"/workflows/{handle.id}/" in headers["nexus-link"]
    assert "eventType=NexusOperationScheduled" in headers["nexus-link"]


async def test_a_handler_error_that_may_be_retried_is_retried(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "flaky", "again")
    assert await handle.result() == "flaky again"
    assert seen.flaky_attempts == 2
    types = await event_types(handle)
    # A failed attempt leaves no event: the caller sees only how the operation ended.
    assert types[4:6] == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_COMPLETED"]


async def test_a_handler_error_that_may_not_be_retried_fails_the_operation(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "refuse", "input")
    assert await handle.result() == "HandlerError: bad input"
    await save_history(handle, "nexus_refused")
    types = await event_types(handle)
    assert types[4:6] == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_FAILED"]
    failed = only(await history_events(handle), Event.EVENT_TYPE_NEXUS_OPERATION_FAILED)
    failure = failed.nexus_operation_failed_event_attributes.failure
    assert failure.message == "nexus operation completed unsuccessfully"
    info = failure.nexus_operation_execution_failure_info
    assert (info.endpoint, info.service, info.operation) == (nexus.endpoint, "Greeter", "refuse")
    assert info.scheduled_event_id == failed.nexus_operation_failed_event_attributes.scheduled_event_id
    assert failure.cause.message == "bad input"
    assert failure.cause.nexus_handler_failure_info.type == "BAD_REQUEST"


async def test_an_operation_error_fails_the_operation(nexus: Nexus, task_queue: str, seen: Seen) -> None:
    handle = await call(nexus, task_queue, "fail", "now")
    assert await handle.result() == "ApplicationError: OperationError: failed now"
    await save_history(handle, "nexus_operation_error")
    failed = only(await history_events(handle), Event.EVENT_TYPE_NEXUS_OPERATION_FAILED)
    failure = failed.nexus_operation_failed_event_attributes.failure
    assert failure.message == "nexus operation completed unsuccessfully"
    assert failure.cause.message == "failed now"
    assert failure.cause.HasField("application_failure_info")


async def test_an_operation_backed_by_a_workflow_completes_through_its_callback(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "greet", "world")
    assert await handle.result() == "hello world"
    await save_history(handle, "nexus_async")
    assert await event_types(handle) == [
        "WORKFLOW_EXECUTION_STARTED",
        *WORKFLOW_TASK,
        "NEXUS_OPERATION_SCHEDULED",
        "NEXUS_OPERATION_STARTED",
        *WORKFLOW_TASK,
        "NEXUS_OPERATION_COMPLETED",
        *WORKFLOW_TASK,
        "WORKFLOW_EXECUTION_COMPLETED",
    ]
    events = await history_events(handle)
    scheduled = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
    started = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_STARTED)
    attributes = started.nexus_operation_started_event_attributes
    assert attributes.scheduled_event_id == scheduled.event_id
    assert attributes.operation_token and attributes.operation_id == attributes.operation_token
    assert attributes.request_id == scheduled.nexus_operation_scheduled_event_attributes.request_id
    # The Started event links to the handler's workflow, whose Started event holds the callback.
    (link,) = started.links
    target = link.workflow_event
    assert target.namespace == nexus.handler.namespace
    assert target.workflow_id.startswith("greeting-")
    assert target.event_ref.event_type == Event.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    handler_workflow = nexus.handler.get_workflow_handle(target.workflow_id, run_id=target.run_id)
    first = (await history_events(handler_workflow))[0]
    (callback,) = first.workflow_execution_started_event_attributes.completion_callbacks
    assert callback.nexus.url == "temporal://system"
    (back,) = callback.links
    assert back.workflow_event.workflow_id == handle.id
    assert back.workflow_event.event_ref.event_id == scheduled.event_id
    described = await nexus.handler.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=nexus.handler.namespace, execution=WorkflowExecution(workflow_id=target.workflow_id)
        )
    )
    (info,) = described.callbacks
    assert info.state == CallbackState.CALLBACK_STATE_SUCCEEDED
    assert info.callback.nexus.url == "temporal://system"
    assert info.trigger.HasField("workflow_closed")


async def test_a_pending_operation_shows_in_describe(nexus: Nexus, task_queue: str, seen: Seen) -> None:
    handle = await call(nexus, task_queue, "sleep", "long", schedule_to_close_seconds=30)
    await wait_for_event(handle, "NEXUS_OPERATION_STARTED")
    described = await nexus.caller.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=nexus.caller.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    (pending,) = described.pending_nexus_operations
    assert (pending.endpoint, pending.service, pending.operation) == (nexus.endpoint, "Greeter", "sleep")
    assert pending.state == PendingNexusOperationState.PENDING_NEXUS_OPERATION_STATE_STARTED
    assert pending.attempt == 1
    assert pending.operation_token
    assert pending.schedule_to_close_timeout.ToTimedelta() == timedelta(seconds=30)
    await handle.terminate()


async def test_a_failed_workflow_fails_its_operation(nexus: Nexus, task_queue: str, seen: Seen) -> None:
    handle = await call(nexus, task_queue, "greet_failing", "nobody")
    assert await handle.result() == "ApplicationError: no greeting for nobody"
    await save_history(handle, "nexus_async_failed")
    types = await event_types(handle)
    assert "NEXUS_OPERATION_STARTED" in types and "NEXUS_OPERATION_FAILED" in types
    failed = only(await history_events(handle), Event.EVENT_TYPE_NEXUS_OPERATION_FAILED)
    failure = failed.nexus_operation_failed_event_attributes.failure
    assert failure.message == "nexus operation completed unsuccessfully"
    assert failure.cause.message == "no greeting for nobody"


async def test_an_operation_times_out_after_its_schedule_to_close_timeout(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "sleep", "forever", schedule_to_close_seconds=4)
    assert await handle.result() == "TimeoutError: operation timed out"
    await save_history(handle, "nexus_timed_out")
    types = [t for t in await event_types(handle) if t.startswith("NEXUS")]
    assert types == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_STARTED", "NEXUS_OPERATION_TIMED_OUT"]
    timed_out = only(await history_events(handle), Event.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
    failure = timed_out.nexus_operation_timed_out_event_attributes.failure
    assert failure.message == "nexus operation completed unsuccessfully"
    assert failure.cause.message == "operation timed out"
    assert failure.cause.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE


async def test_a_canceled_operation_cancels_its_workflow(nexus: Nexus, task_queue: str, seen: Seen) -> None:
    handle = await call(nexus, task_queue, "sleep", "briefly", cancel=True)
    assert await handle.result() == "CancelledError: operation canceled"
    await save_history(handle, "nexus_canceled")
    types = [t for t in await event_types(handle) if not t.startswith("WORKFLOW_TASK")]
    assert types == [
        "WORKFLOW_EXECUTION_STARTED",
        "NEXUS_OPERATION_SCHEDULED",
        "NEXUS_OPERATION_STARTED",
        "TIMER_STARTED",
        "TIMER_FIRED",
        "NEXUS_OPERATION_CANCEL_REQUESTED",
        "NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED",
        "NEXUS_OPERATION_CANCELED",
        "WORKFLOW_EXECUTION_COMPLETED",
    ]


async def test_an_unknown_endpoint_fails_the_workflow_task(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Caller]):
        handle = await client.start_workflow(
            Caller.run,
            Call("no-such-endpoint", "echo", "x"),
            id=f"caller-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        failed = await wait_for_event(handle, "WORKFLOW_TASK_FAILED")
        await handle.terminate()
    attributes = failed.workflow_task_failed_event_attributes
    assert attributes.cause == 32  # WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES
    assert attributes.failure.message == (
        'BadScheduleNexusOperationAttributes: endpoint "no-such-endpoint" not found'
    )


async def test_a_started_operation_times_out_after_its_start_to_close_timeout(
    nexus: Nexus, task_queue: str, seen: Seen
) -> None:
    handle = await call(nexus, task_queue, "sleep", "too long", start_to_close_seconds=2)
    assert await handle.result() == "TimeoutError: operation timed out"
    await save_history(handle, "nexus_start_to_close")
    types = [t for t in await event_types(handle) if t.startswith("NEXUS")]
    assert types == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_STARTED", "NEXUS_OPERATION_TIMED_OUT"]
    events = await history_events(handle)
    scheduled = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)
    assert scheduled.nexus_operation_scheduled_event_attributes.start_to_close_timeout.ToTimedelta() == (
        timedelta(seconds=2)
    )
    timed_out = only(events, Event.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
    cause = timed_out.nexus_operation_timed_out_event_attributes.failure.cause
    assert cause.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE


async def test_a_reset_caller_keeps_its_started_operation(nexus: Nexus, task_queue: str, seen: Seen) -> None:
    gate = uuid.uuid4().hex[:8]
    handle = await call(nexus, task_queue, "gate", gate)
    await wait_for_event(handle, "NEXUS_OPERATION_STARTED")
    # The last completed workflow task, after the operation started: the new run keeps it pending.
    async with asyncio.timeout(30):
        while (await event_types(handle))[-1] != "WORKFLOW_TASK_COMPLETED":
            await asyncio.sleep(0.1)
    last = (await history_events(handle))[-1]
    reset = await nexus.caller.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=nexus.caller.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id),
            reason="again",
            workflow_task_finish_event_id=last.event_id,
            request_id=str(uuid.uuid4()),
        )
    )
    await nexus.handler.get_workflow_handle(f"gate-{gate}").signal(Gate.open, "after the reset")
    new_run = nexus.caller.get_workflow_handle(handle.id, run_id=reset.run_id)
    assert await new_run.result() == f"{gate} opened with after the reset"
    types = [t for t in await event_types(new_run) if t.startswith("NEXUS")]
    assert types == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_STARTED", "NEXUS_OPERATION_COMPLETED"]


async def test_the_handlers_task_queue_shows_its_nexus_pollers(nexus: Nexus, seen: Seen) -> None:
    async with asyncio.timeout(30):
        while True:
            described = await nexus.handler.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=nexus.handler.namespace,
                    task_queue=TaskQueue(name=nexus.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_NEXUS,
                )
            )
            if described.pollers:
                break
            await asyncio.sleep(0.2)
    assert [p.identity for p in described.pollers] == [nexus.handler.identity]
