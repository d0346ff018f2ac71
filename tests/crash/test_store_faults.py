"""What the server does when its storage fails under it, on real files.

- Writes that fail for a while (here: the server's file size limit, `ulimit -f`, so that the
  database cannot grow, as on a full disk) answer UNAVAILABLE, which clients retry, and the
  gRPC health service says NOT_SERVING; once writes work again it says SERVING by itself,
  and nothing acknowledged was lost.
- A second server on the same file refuses to start, in one line.
- A database file deleted or replaced under a running server stops it with a clear error.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, StartWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.server_process import ServerProcess, on_postgres, use_reference

pytestmark = [
    pytest.mark.skipif(use_reference(), reason="Clepsydra's own storage"),
    pytest.mark.skipif(on_postgres(), reason="faults of the SQLite store (PostgreSQL's: tests/postgres)"),
]
GUARD = 60.0  # only against hanging
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


async def _health(server: ServerProcess) -> int:
    async with grpc.aio.insecure_channel(server.target) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        return int(answer.status)


async def _until_health(server: ServerProcess, wanted: int) -> None:
    while await _health(server) != wanted:
        await asyncio.sleep(0.2)


def _start(workflow_id: str, size: int) -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=workflow_id,
        workflow_type=WorkflowType(name="Faults"),
        task_queue=TaskQueue(name="faults"),
        request_id=str(uuid.uuid4()),
        input=Payloads(payloads=[Payload(metadata={"encoding": b"binary/plain"}, data=os.urandom(size))]),
    )


async def test_writes_that_fail_answer_unavailable_and_health_comes_back_by_itself(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "faults.db", tmp_path / "server.log")
    await server.start()
    assert server.proc is not None
    try:
        client = await Client.connect(server.target)
        ws = client.workflow_service
        await ws.start_workflow_execution(_start("before", 10))
        # From now on no file of the server may grow past 2 MB: the database's WAL soon cannot.
        _, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (2 * 1024 * 1024, hard))
        acknowledged, refused = [], []
        async with asyncio.timeout(GUARD):
            while not refused:
                workflow_id = f"big-{len(acknowledged)}"
                try:
                    await ws.start_workflow_execution(_start(workflow_id, 256 * 1024), retry=False)
                    acknowledged.append(workflow_id)
                except RPCError as error:
                    assert error.status == RPCStatusCode.UNAVAILABLE, error.message
                    refused.append(error.message)
            await _until_health(server, NOT_SERVING)
            assert server.proc.poll() is None
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
            await _until_health(server, SERVING)
        await ws.start_workflow_execution(_start("after", 10))
        assert "database" in refused[0]
        # Nothing acknowledged is lost, across a restart too.
        server.stop()
        await server.start()
        client = await Client.connect(server.target)
        for workflow_id in ["before", *acknowledged, "after"]:
            await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(namespace="default", execution={"workflow_id": workflow_id})
            )
    finally:
        server.stop()


def _start_dev(db: Path) -> subprocess.CompletedProcess[str]:
    command = ["server", "start-dev", "--headless", "--port", "0", "--db-filename", str(db)]
    return subprocess.run(
        [sys.executable, "-m", "clepsydra", *command], capture_output=True, text=True, timeout=60
    )


async def test_a_second_server_on_the_same_file_refuses_to_start(tmp_path: Path) -> None:
    db = tmp_path / "one.db"
    server = ServerProcess(db, tmp_path / "server.log")
    await server.start()
    try:
        second = await asyncio.to_thread(_start_dev, db)
        assert second.returncode == 1
        assert second.stderr.strip() == (
            f"Error: {db} is in use by another Clepsydra server; one server per database file"
        )
        await (await Client.connect(server.target)).workflow_service.start_workflow_execution(_start("w", 1))
    finally:
        server.stop()
    # Once the first has stopped, the file is free.
    server = ServerProcess(db, tmp_path / "server.log")
    await server.start()
    server.stop()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_database_file_taken_away_stops_the_server(tmp_path: Path, how: str) -> None:
    db = tmp_path / "gone.db"
    server = ServerProcess(db, tmp_path / "server.log")
    await server.start()
    assert server.proc is not None
    try:
        client = await Client.connect(server.target)
        if how == "deleted":
            db.unlink()
        else:
            other = tmp_path / "other.db"
            other.write_bytes(db.read_bytes())
            other.replace(db)
        # From now on no write is acknowledged: it would be lost.
        with pytest.raises(RPCError) as refused:
            await client.workflow_service.start_workflow_execution(_start("too-late", 1), retry=False)
        assert refused.value.status == RPCStatusCode.UNAVAILABLE
        async with asyncio.timeout(GUARD):
            while server.proc.poll() is None:
                await asyncio.sleep(0.1)
        assert server.proc.returncode == 1
        log = (tmp_path / "server.log").read_text()
        assert f"Error: {db} was {how}" in log
    finally:
        server.stop()
