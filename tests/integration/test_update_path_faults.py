"""The update path when commits fail, on a real SQLite store wrapped to fail when told
(tests/faulty_store.py), under a real server in this process and the SDK over gRPC.

A commit that fails changes nothing and the client's retry lands once; a commit whose
answer is lost after it was durable is not done twice when the client retries; slow commits
keep concurrent changes of one workflow in order; a full disk answers UNAVAILABLE, and the
health service follows it down and back up."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from clepsydra.server.app import Server, ServerConfig
from tests.faulty_store import FaultySqliteStore
from tests.integration.helpers import history_events
from tests.server_process import use_reference

pytestmark = pytest.mark.skipif(use_reference(), reason="faults are injected into Clepsydra's store")
GUARD = 60.0


@workflow.defn
class CollectWorkflow:
    def __init__(self) -> None:
        self.received: list[str] = []

    @workflow.run
    async def run(self, wanted: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.received) >= wanted)
        return self.received

    @workflow.signal
    def add(self, value: str) -> None:
        self.received.append(value)


@dataclass
class Running:
    server: Server
    store: FaultySqliteStore
    client: Client
    task_queue: str


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    store = FaultySqliteStore(str(tmp_path / "faulty.db"))
    server = Server(ServerConfig(port=0), store=store)
    await server.start()
    try:
        client = await Client.connect(server.address)
        task_queue = f"faults-{uuid.uuid4()}"
        # Unsandboxed: the sandbox would import this module, and the server with it, again.
        runner = UnsandboxedWorkflowRunner()
        async with Worker(client, task_queue=task_queue, workflows=[CollectWorkflow], workflow_runner=runner):
            yield Running(server, store, client, task_queue)
    finally:
        await server.stop()


async def _start(r: Running, wanted: int) -> WorkflowHandle[CollectWorkflow, list[str]]:
    return await r.client.start_workflow(
        CollectWorkflow.run, wanted, id=f"collect-{uuid.uuid4()}", task_queue=r.task_queue
    )


async def _signals(handle: WorkflowHandle[CollectWorkflow, list[str]]) -> list[str]:
    events = await history_events(handle)
    signaled = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    return [e.workflow_execution_signaled_event_attributes.input.payloads[0].data.decode() for e in signaled]


async def test_a_failed_commit_changes_nothing_and_the_retry_lands_once(running: Running) -> None:
    handle = await _start(running, 2)
    running.store.fail_next(sqlite3.OperationalError("disk I/O error"))
    async with asyncio.timeout(GUARD):
        await handle.signal(CollectWorkflow.add, "a")  # UNAVAILABLE once, then the SDK's retry
        await handle.signal(CollectWorkflow.add, "b")
        assert await handle.result() == ["a", "b"]
    assert await _signals(handle) == ['"a"', '"b"']


async def test_an_answer_lost_after_a_durable_commit_is_not_done_twice(running: Running) -> None:
    # The start commits, its answer is lost; the SDK sends the same start (same request id) again.
    running.store.fail_next(sqlite3.OperationalError("disk I/O error"), after_write=True)
    async with asyncio.timeout(GUARD):
        handle = await _start(running, 1)
        await handle.signal(CollectWorkflow.add, "only")
        assert await handle.result() == ["only"]
    started = [
        e
        for e in await history_events(handle)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    ]
    assert len(started) == 1


async def test_slow_commits_keep_concurrent_changes_whole(running: Running) -> None:
    handle = await _start(running, 5)
    running.store.delay = 0.2
    async with asyncio.timeout(GUARD):
        await asyncio.gather(*(handle.signal(CollectWorkflow.add, str(n)) for n in range(5)))
        running.store.delay = 0.0
        assert sorted(await handle.result()) == ["0", "1", "2", "3", "4"]
    assert sorted(await _signals(handle)) == ['"0"', '"1"', '"2"', '"3"', '"4"']


async def _health(r: Running) -> int:
    async with grpc.aio.insecure_channel(r.server.address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        return int(answer.status)


async def test_a_full_disk_answers_unavailable_and_health_follows(running: Running) -> None:
    handle = await _start(running, 1)
    running.store.disk_full = True
    request = SignalWorkflowExecutionRequest(
        namespace="default", workflow_execution=WorkflowExecution(workflow_id=handle.id), signal_name="add"
    )
    with pytest.raises(RPCError) as refused:
        await running.client.workflow_service.signal_workflow_execution(request, retry=False)
    assert refused.value.status == RPCStatusCode.UNAVAILABLE
    assert "database or disk is full" in refused.value.message
    async with asyncio.timeout(GUARD):
        while await _health(running) != health_pb2.HealthCheckResponse.NOT_SERVING:
            await asyncio.sleep(0.2)
        running.store.disk_full = False
        while await _health(running) != health_pb2.HealthCheckResponse.SERVING:
            await asyncio.sleep(0.2)
        await handle.signal(CollectWorkflow.add, "after")
        assert await handle.result() == ["after"]
