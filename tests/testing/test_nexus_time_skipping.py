"""Nexus operations on a time-skipping server: a sync operation answers at once, and an
operation's timeout comes due by skipping time, not by waiting for it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.worker import Worker

from clepsydra.testing import TimeSkippingEnvironment
from tests.integration.nexus_support import Call, Caller, GreeterHandler, Greeting, Seen, SleepingGreeting


async def test_nexus_operations_on_skipped_time(
    clepsydra_time_skipping_env: TimeSkippingEnvironment, clepsydra_task_queue: str
) -> None:
    env = clepsydra_time_skipping_env
    client = env.client
    handlers = f"{clepsydra_task_queue}-handlers"
    name = f"ep-{uuid.uuid4().hex[:8]}"
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace=client.namespace, task_queue=handlers))
    await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name=name, target=target))
    )
    handler_worker = Worker(
        client,
        task_queue=handlers,
        workflows=[Greeting, SleepingGreeting],
        nexus_service_handlers=[GreeterHandler(Seen())],
    )
    async with handler_worker, Worker(client, task_queue=clepsydra_task_queue, workflows=[Caller]):
        echoed = await client.execute_workflow(
            Caller.run, Call(name, "echo", "x"), id=f"echo-{uuid.uuid4()}", task_queue=clepsydra_task_queue
        )
        assert echoed == "echo x"
        before = await env.get_current_time()
        timed_out = await client.execute_workflow(
            Caller.run,
            Call(name, "sleep", "y", schedule_to_close_seconds=600),
            id=f"sleep-{uuid.uuid4()}",
            task_queue=clepsydra_task_queue,
        )
        assert timed_out == "TimeoutError: operation timed out"
        assert await env.get_current_time() - before >= timedelta(seconds=600)
