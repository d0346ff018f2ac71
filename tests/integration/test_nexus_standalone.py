"""Standalone Nexus operations: started and awaited by a client with no workflow, handled by
the same handler workers as a workflow's operations, then described, listed, counted,
canceled, terminated and deleted. The reference needs them switched on
(nexusoperation.enableStandalone); run with CLEPSYDRA_TEST_SERVER=reference to check."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.api.workflowservice.v1 import DeleteNexusOperationExecutionRequest, RegisterNamespaceRequest
from temporalio.client import Client, NexusClient, NexusOperationFailureError
from temporalio.common import NexusOperationExecutionStatus
from temporalio.exceptions import ApplicationError, CancelledError, NexusOperationAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.nexus_support import (
    Gate,
    Greeter,
    GreeterHandler,
    Greeting,
    Seen,
    SleepingGreeting,
)
from tests.server_process import ServerProcess, use_reference

HANDLERS = "nexus-standalone-handlers"


@dataclass
class Setup:
    client: Client
    handlers: Client
    endpoint: str


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    work = tmp_path_factory.mktemp("nexus-standalone")
    extra = ("--dynamic-config-value", "nexusoperation.enableStandalone=true") if use_reference() else ()
    server = ServerProcess(work / "server.db", work / "server.log", *extra)
    await server.start()
    client = await Client.connect(server.target)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=HANDLERS, workflow_execution_retention_period=timedelta(days=1))
    )
    await asyncio.sleep(1)  # the reference takes a moment to know a new namespace
    handlers = await Client.connect(server.target, namespace=HANDLERS)
    task_queue = f"handlers-{uuid.uuid4()}"
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace=HANDLERS, task_queue=task_queue))
    await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name="greeter", target=target))
    )
    await asyncio.sleep(1)
    worker = Worker(
        handlers,
        task_queue=task_queue,
        workflows=[Greeting, SleepingGreeting, Gate],
        nexus_service_handlers=[GreeterHandler(Seen())],
    )
    async with worker:
        yield Setup(client, handlers, "greeter")
    server.stop()


def greeter(setup: Setup) -> NexusClient[Greeter]:
    return setup.client.create_nexus_client(Greeter, setup.endpoint)


def operation_id() -> str:
    return f"op-{uuid.uuid4()}"


async def test_a_sync_operation_answers_its_client(setup: Setup) -> None:
    handle = await greeter(setup).start_operation(
        Greeter.echo, "hi", id=operation_id(), schedule_to_close_timeout=timedelta(seconds=30)
    )
    assert await handle.result() == "echo hi"
    described = await handle.describe()
    assert described.status == NexusOperationExecutionStatus.COMPLETED
    raw = described.raw_description
    assert (raw.endpoint, raw.service, raw.operation) == ("greeter", "Greeter", "echo")
    assert raw.schedule_to_close_timeout.ToTimedelta() == timedelta(seconds=30)
    assert raw.attempt == 1 and raw.HasField("close_time")


async def test_an_operation_backed_by_a_workflow_answers_when_the_workflow_closes(setup: Setup) -> None:
    handle = await greeter(setup).start_operation(Greeter.greet, "world", id=operation_id())
    assert await handle.result() == "hello world"
    raw = (await handle.describe()).raw_description
    assert raw.operation_token
    (link,) = raw.links
    assert link.workflow_event.namespace == HANDLERS
    assert link.workflow_event.workflow_id.startswith("greeting-")


async def test_a_failed_operation_fails_its_client(setup: Setup) -> None:
    handle = await greeter(setup).start_operation(Greeter.fail, "now", id=operation_id())
    with pytest.raises(NexusOperationFailureError) as error:
        await handle.result()
    assert isinstance(error.value.cause, ApplicationError)
    assert error.value.cause.message == "failed now"
    assert (await handle.describe()).status == NexusOperationExecutionStatus.FAILED


async def test_a_terminated_operation_ends_at_once(setup: Setup) -> None:
    handle = await greeter(setup).start_operation(Greeter.sleep, "long", id=operation_id())
    await handle.terminate(reason="enough")
    with pytest.raises(NexusOperationFailureError) as error:
        await handle.result()
    assert str(error.value.cause) == "enough"
    assert (await handle.describe()).status == NexusOperationExecutionStatus.TERMINATED
    with pytest.raises(RPCError) as refused:
        await handle.terminate(reason="again")
    assert refused.value.status == RPCStatusCode.FAILED_PRECONDITION
    assert refused.value.message.startswith("already terminated with request ID ")


async def test_a_canceled_operation_cancels_its_workflow(setup: Setup) -> None:
    handle = await greeter(setup).start_operation(Greeter.sleep, "briefly", id=operation_id())
    async with asyncio.timeout(30):
        while not (await handle.describe()).raw_description.operation_token:
            await asyncio.sleep(0.1)
    await handle.cancel(reason="not needed")
    with pytest.raises(NexusOperationFailureError) as error:
        await handle.result()
    assert isinstance(error.value.cause, CancelledError)
    assert (await handle.describe()).status == NexusOperationExecutionStatus.CANCELED


async def test_operation_ids_are_unique_while_running(setup: Setup) -> None:
    same = operation_id()
    handle = await greeter(setup).start_operation(Greeter.sleep, "one", id=same)
    with pytest.raises(NexusOperationAlreadyStartedError):
        await greeter(setup).start_operation(Greeter.sleep, "two", id=same)
    await handle.terminate()


async def test_operations_are_listed_counted_and_deleted(setup: Setup) -> None:
    ids = [operation_id() for _ in range(2)]
    for each in ids:
        await (await greeter(setup).start_operation(Greeter.echo, each, id=each)).result()
    query = " OR ".join(f"OperationId = '{each}'" for each in ids)
    listed = [op async for op in setup.client.list_nexus_operations(query)]
    assert sorted(op.operation_id for op in listed) == sorted(ids)
    assert {(op.endpoint, op.service, op.operation) for op in listed} == {("greeter", "Greeter", "echo")}
    assert all(op.status == NexusOperationExecutionStatus.COMPLETED for op in listed)
    assert (await setup.client.count_nexus_operations(query)).count == 2
    # Hidden from workflow lists.
    assert [w async for w in setup.client.list_workflows(f"WorkflowId = '{ids[0]}'")] == []
    await setup.client.workflow_service.delete_nexus_operation_execution(
        DeleteNexusOperationExecutionRequest(namespace="default", operation_id=ids[0])
    )
    await asyncio.sleep(1)  # the reference deletes in the background
    with pytest.raises(RPCError) as missing:
        await setup.client.get_nexus_operation_handle(ids[0]).describe()
    assert (missing.value.status, missing.value.message) == (
        RPCStatusCode.NOT_FOUND,
        f"operation not found for ID: {ids[0]}",
    )


async def test_an_unknown_endpoint_is_refused(setup: Setup) -> None:
    with pytest.raises(RPCError) as error:
        await setup.client.create_nexus_client(Greeter, "nowhere").start_operation(
            Greeter.echo, "x", id=operation_id()
        )
    assert (error.value.status, error.value.message) == (
        RPCStatusCode.NOT_FOUND,
        "could not find Nexus endpoint by name: nowhere",
    )


_ = Path  # the fixture's paths come from tmp_path_factory
