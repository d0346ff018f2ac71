"""Task tokens are bound to their namespace and sealed by the server: a request that names
another namespace is refused with the reference's message, one that names no namespace
means the token's own, and a token made up from a workflow's public fields is refused.
A server's tokens stay valid after it restarts on the same database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, WorkflowType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1 import Failure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
    RecordActivityTaskHeartbeatRequest,
    RegisterNamespaceRequest,
    RespondActivityTaskCanceledRequest,
    RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedRequest,
    RespondQueryTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskFailedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, WorkflowService

from clepsydra.services.tokens import MAC_SIZE
from tests.integration.helpers import assert_still_serves
from tests.server_process import ServerProcess, use_reference

OTHER_NAMESPACE = "Operation requested with a token from a different namespace."
MALFORMED = "Error deserializing task token."


async def _other_namespace(client: Client) -> str:
    name = f"tokens-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400))
    )
    return name


async def _workflow_task(ws: WorkflowService, namespace: str, task_queue: str) -> bytes:
    await ws.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=namespace,
            workflow_id=f"tokens-{uuid.uuid4()}",
            workflow_type=WorkflowType(name="W"),
            task_queue=TaskQueue(name=task_queue),
            request_id=str(uuid.uuid4()),
        )
    )
    task = await ws.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(namespace=namespace, task_queue=TaskQueue(name=task_queue), identity="t")
    )
    assert task.task_token
    return task.task_token


async def _activity_task(ws: WorkflowService, namespace: str, task_queue: str) -> bytes:
    """The token of an activity task, started for the test: a workflow task that schedules it."""
    token = await _workflow_task(ws, namespace, task_queue)
    schedule = ScheduleActivityTaskCommandAttributes(
        activity_id="a",
        activity_type=ActivityType(name="A"),
        task_queue=TaskQueue(name=task_queue),
        start_to_close_timeout=Duration(seconds=60),
    )
    command = Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=schedule,
    )
    await ws.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(namespace=namespace, task_token=token, commands=[command])
    )
    task = await ws.poll_activity_task_queue(
        PollActivityTaskQueueRequest(namespace=namespace, task_queue=TaskQueue(name=task_queue), identity="t")
    )
    assert task.task_token
    return task.task_token


async def _refused(call: Awaitable[Message], status: RPCStatusCode, message: str) -> None:
    with pytest.raises(RPCError) as raised:
        await call
    assert (raised.value.status, raised.value.message) == (status, message)


def _activity_calls(ws: WorkflowService) -> list[Callable[[str, bytes], Awaitable[Message]]]:
    return [
        lambda ns, t: ws.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=ns, task_token=t)
        ),
        lambda ns, t: ws.record_activity_task_heartbeat(
            RecordActivityTaskHeartbeatRequest(namespace=ns, task_token=t)
        ),
        lambda ns, t: ws.respond_activity_task_failed(
            RespondActivityTaskFailedRequest(namespace=ns, task_token=t, failure=Failure(message="no"))
        ),
        lambda ns, t: ws.respond_activity_task_canceled(
            RespondActivityTaskCanceledRequest(namespace=ns, task_token=t)
        ),
    ]


async def test_a_token_is_refused_in_another_namespace(client: Client, task_queue: str) -> None:
    ws = client.workflow_service
    other = await _other_namespace(client)
    workflow_token = await _workflow_task(ws, client.namespace, f"{task_queue}-w")
    activity_token = await _activity_task(ws, client.namespace, task_queue)
    for name in (other, "no-such-namespace"):
        wrong = (
            (RPCStatusCode.INVALID_ARGUMENT, OTHER_NAMESPACE)
            if name == other
            else (RPCStatusCode.NOT_FOUND, f"Namespace {name} is not found.")
        )
        for call in _activity_calls(ws):
            await _refused(call(name, activity_token), *wrong)
        await _refused(
            ws.respond_workflow_task_completed(
                RespondWorkflowTaskCompletedRequest(namespace=name, task_token=workflow_token)
            ),
            *wrong,
        )
        await _refused(
            ws.respond_workflow_task_failed(
                RespondWorkflowTaskFailedRequest(namespace=name, task_token=workflow_token)
            ),
            *wrong,
        )
    await assert_still_serves(client)
    # Naming no namespace means the token's: the activity completes.
    await ws.respond_activity_task_completed(RespondActivityTaskCompletedRequest(task_token=activity_token))
    await ws.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(task_token=workflow_token))


async def test_a_token_made_from_public_fields_is_refused(client: Client, task_queue: str) -> None:
    if use_reference():
        pytest.skip("the reference's tokens are another format")
    ws = client.workflow_service
    token = await _activity_task(ws, client.namespace, task_queue)
    # What an old, unsealed token of this activity looked like, and the same with another tail.
    fields = json.loads(token[:-MAC_SIZE])
    made_up = json.dumps(fields, separators=(",", ":")).encode()
    for forged in (made_up, made_up + b"0123456789abcdef", token[:-1] + bytes([token[-1] ^ 1])):
        for call in _activity_calls(ws):
            await _refused(call(client.namespace, forged), RPCStatusCode.INVALID_ARGUMENT, MALFORMED)
    for bad in (b"garbage", b'{"query": 1}' + bytes(16)):
        await _refused(
            ws.respond_query_task_completed(
                RespondQueryTaskCompletedRequest(namespace=client.namespace, task_token=bad)
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            MALFORMED,
        )
    await ws.respond_activity_task_completed(
        RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=token)
    )


async def test_tokens_stay_valid_when_the_server_restarts(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "tokens.db", tmp_path / "server.log")
    await server.start()
    try:
        client = await Client.connect(server.target)
        token = await _activity_task(client.workflow_service, "default", "restart")
        server.stop()
        await server.start()
        client = await Client.connect(server.target)
        await asyncio.wait_for(
            client.workflow_service.respond_activity_task_completed(
                RespondActivityTaskCompletedRequest(namespace="default", task_token=token)
            ),
            30,
        )
    finally:
        server.stop()
