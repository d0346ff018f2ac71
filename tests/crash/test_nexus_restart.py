"""Kill -9 while Nexus operations are under way: a start request not answered yet is sent
again after the restart, and an operation backed by a workflow is completed through its
callback when that workflow closes after the restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.helpers import event_types, wait_for_event
from tests.integration.nexus_support import Call, Caller, Gate, GreeterHandler, Greeting, Seen
from tests.server_process import ServerProcess

GUARD = 90.0  # a guard against hanging, not an assertion on speed
HANDLERS = "nexus-handlers"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "nexus.db", tmp_path / "server.log")
    await proc.start()
    client = await Client.connect(proc.target)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=HANDLERS, workflow_execution_retention_period=timedelta(days=1))
    )
    try:
        yield proc
    finally:
        proc.stop()


async def endpoint(client: Client, task_queue: str) -> str:
    name = f"greeter-{uuid.uuid4().hex[:8]}"
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace=HANDLERS, task_queue=task_queue))
    await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name=name, target=target))
    )
    return name


def handler_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[Gate, Greeting],
        nexus_service_handlers=[GreeterHandler(Seen())],
    )


async def test_an_operation_started_before_a_kill_completes_after_it(server: ServerProcess) -> None:
    client = await Client.connect(server.target)
    handlers = await Client.connect(server.target, namespace=HANDLERS)
    caller_queue, handler_queue = f"callers-{uuid.uuid4()}", f"handlers-{uuid.uuid4()}"
    name = await endpoint(client, handler_queue)
    gate_name = uuid.uuid4().hex[:8]
    async with (
        Worker(client, task_queue=caller_queue, workflows=[Caller]),
        handler_worker(handlers, handler_queue),
    ):
        async with asyncio.timeout(GUARD):
            handle = await client.start_workflow(
                Caller.run,
                Call(name, "gate", gate_name),
                id=f"caller-{uuid.uuid4()}",
                task_queue=caller_queue,
            )
            await wait_for_event(handle, "NEXUS_OPERATION_STARTED")
            server.kill()
            await server.start()
            await handlers.get_workflow_handle(f"gate-{gate_name}").signal(Gate.open, "a key")
            assert await handle.result() == f"{gate_name} opened with a key"
    types = [t for t in await event_types(handle) if t.startswith("NEXUS")]
    assert types == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_STARTED", "NEXUS_OPERATION_COMPLETED"]


async def test_a_start_request_unanswered_at_a_kill_is_sent_again(server: ServerProcess) -> None:
    client = await Client.connect(server.target)
    handlers = await Client.connect(server.target, namespace=HANDLERS)
    caller_queue, handler_queue = f"callers-{uuid.uuid4()}", f"handlers-{uuid.uuid4()}"
    name = await endpoint(client, handler_queue)
    async with Worker(client, task_queue=caller_queue, workflows=[Caller]):
        async with asyncio.timeout(GUARD):
            handle = await client.start_workflow(
                Caller.run, Call(name, "greet", "later"), id=f"caller-{uuid.uuid4()}", task_queue=caller_queue
            )
            await wait_for_event(handle, "NEXUS_OPERATION_SCHEDULED")  # no handler polls yet
            server.kill()
            await server.start()
            async with handler_worker(handlers, handler_queue):
                assert await handle.result() == "hello later"
    types = [t for t in await event_types(handle) if t.startswith("NEXUS")]
    assert types == ["NEXUS_OPERATION_SCHEDULED", "NEXUS_OPERATION_STARTED", "NEXUS_OPERATION_COMPLETED"]
