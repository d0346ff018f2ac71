"""Nexus on a database shared by several processes: callers' operations are sent by the
processes that own them, handler workers poll another process, which fetches the requests,
and the workers' answers (and the completion callbacks) find their way back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.nexus_support import Call, Caller, Greeter, GreeterHandler, Greeting, Seen
from tests.postgres.test_failover import GUARD, cluster


async def test_operations_cross_processes(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (a, b):
        via_a = await Client.connect(a.target)
        await via_a.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace="handlers", workflow_execution_retention_period=timedelta(days=1)
            )
        )
        handlers_via_b = await Client.connect(b.target, namespace="handlers")
        caller_queue, handler_queue = f"callers-{uuid.uuid4()}", f"handlers-{uuid.uuid4()}"
        target = EndpointTarget(worker=EndpointTarget.Worker(namespace="handlers", task_queue=handler_queue))
        await via_a.operator_service.create_nexus_endpoint(
            CreateNexusEndpointRequest(spec=EndpointSpec(name="greeter", target=target))
        )
        handler_worker = Worker(
            handlers_via_b,
            task_queue=handler_queue,
            workflows=[Greeting],
            nexus_service_handlers=[GreeterHandler(Seen())],
        )
        async with Worker(via_a, task_queue=caller_queue, workflows=[Caller]), handler_worker:
            calls = [
                await via_a.start_workflow(
                    Caller.run,
                    Call("greeter", operation, f"{operation}-{i}"),
                    id=f"caller-{i}-{uuid.uuid4()}",  # spread over the shards, so over both processes
                    task_queue=caller_queue,
                )
                for i in range(4)
                for operation in ("echo", "greet")
            ]
            async with asyncio.timeout(GUARD):
                results = await asyncio.gather(*(c.result() for c in calls))
        assert results == [answer for i in range(4) for answer in (f"echo echo-{i}", f"hello greet-{i}")]


async def test_standalone_operations_are_served_by_their_owner(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (a, b):
        via_a, via_b = await Client.connect(a.target), await Client.connect(b.target)
        handler_queue = f"handlers-{uuid.uuid4()}"
        target = EndpointTarget(worker=EndpointTarget.Worker(namespace="default", task_queue=handler_queue))
        await via_a.operator_service.create_nexus_endpoint(
            CreateNexusEndpointRequest(spec=EndpointSpec(name="greeter", target=target))
        )
        worker = Worker(
            via_b,
            task_queue=handler_queue,
            workflows=[Greeting],
            nexus_service_handlers=[GreeterHandler(Seen())],
        )
        async with worker:
            ids = [f"op-{i}-{uuid.uuid4()}" for i in range(6)]  # spread over the shards
            for each in ids:
                await via_a.create_nexus_client(Greeter, "greeter").start_operation(
                    Greeter.greet, each, id=each
                )
            async with asyncio.timeout(GUARD):
                results = [await via_b.get_nexus_operation_handle(each).result() for each in ids]
        assert results == [f"hello {each}" for each in ids]
