"""Every RPC of the WorkflowService and the OperatorService, with requests generated from
the API's descriptors: whatever a request holds, the answer is a response or a clear error,
never INTERNAL or UNKNOWN, and the server goes on serving.

The examples are derandomized, so a run is repeatable; CLEPSYDRA_FUZZ_EXAMPLES=N runs N
examples per method with fresh randomness instead (the default keeps the whole module to
about a minute).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    RegisterNamespaceRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2
from temporalio.client import Client

from tests.fuzz.strategies import messages
from tests.server_process import ServerProcess

SERVICES = [
    workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"],
    operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"],
]
METHODS = [method for service in SERVICES for method in service.methods]
EXAMPLES = int(os.environ.get("CLEPSYDRA_FUZZ_EXAMPLES", "0"))
# Long polls wait for work: they are cut short, and what they answer in time is checked.
DEADLINE = 0.5
WRONG = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of the module's own (requests delete namespaces and terminate workflows), with
    a namespace and a running workflow that the generated requests name."""
    work: Path = tmp_path_factory.mktemp("fuzz")
    server = ServerProcess(work / "fuzz.db", work / "server.log")
    asyncio.run(_start(server))
    yield server
    assert server.proc is not None and server.proc.poll() is None, "the server died"
    server.stop()


async def _start(server: ServerProcess) -> None:
    await server.start()
    client = await Client.connect(server.target)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace="fuzz", workflow_execution_retention_period={"seconds": 86400})
    )
    await client.workflow_service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace="default",
            workflow_id="fuzz-workflow",
            workflow_type=WorkflowType(name="Fuzz"),
            task_queue=TaskQueue(name="fuzz"),
            request_id=str(uuid.uuid4()),
        )
    )


@pytest.fixture(scope="module")
def channel(fuzzed: ServerProcess) -> Iterator[grpc.Channel]:
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    with grpc.insecure_channel(fuzzed.target, options=options) as channel:
        yield channel


def _settings() -> settings:
    return settings(
        max_examples=EXAMPLES or 120,
        derandomize=not EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_no_request_gets_an_internal_error(method: MethodDescriptor, channel: grpc.Channel) -> None:
    request_class = GetMessageClass(method.input_type)
    response_class = GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )

    @_settings()
    @given(messages(method.input_type))
    def check(request: Message) -> None:
        try:
            call(request, timeout=DEADLINE)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]  # a grpc.Call too
            assert code not in WRONG, f"{method.name}: {code.name} {error.details()}\n{request}"  # type: ignore[attr-defined]

    check()


def test_the_server_still_serves_after_the_fuzz(channel: grpc.Channel) -> None:
    method = "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"
    call = channel.unary_unary(
        method,
        request_serializer=GetSystemInfoRequest.SerializeToString,
        response_deserializer=GetSystemInfoResponse.FromString,
    )
    assert call(GetSystemInfoRequest(), timeout=10).server_version
