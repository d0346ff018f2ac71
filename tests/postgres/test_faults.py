"""A PostgreSQL database that stops taking connections (as when it is down or restarting):
requests answer UNAVAILABLE, which clients retry, rather than INTERNAL; the gRPC health
service says NOT_SERVING meanwhile and SERVING again by itself once the database is back;
the server process lives through it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clepsydra.store import postgres_schema
from tests.postgres.database import ADMIN_URL, fresh_database
from tests.postgres.server import PostgresServerProcess
from tests.server_process import ServerProcess

GUARD = 60.0


async def _health(server: ServerProcess) -> int:
    async with grpc.aio.insecure_channel(server.target) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        return int(answer.status)


def _start() -> StartWorkflowExecutionRequest:
    return StartWorkflowExecutionRequest(
        namespace="default",
        workflow_id=f"pg-faults-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="Faults"),
        task_queue=TaskQueue(name="faults"),
        request_id=str(uuid.uuid4()),
    )


async def _allow_connections(url: str, allowed: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


async def test_a_database_that_refuses_connections_is_unavailable_for_a_while(tmp_path: Path) -> None:
    async with fresh_database("clepsydra_faults") as url:
        conn = await asyncpg.connect(url)
        try:
            await postgres_schema.migrate(conn)
        finally:
            await conn.close()
        server = PostgresServerProcess(url, tmp_path / "server.log")
        await server.start()
        try:
            client = await Client.connect(server.target)
            await client.workflow_service.start_workflow_execution(_start())
            await _allow_connections(url, False)
            async with asyncio.timeout(GUARD):
                while True:
                    try:
                        await client.workflow_service.start_workflow_execution(_start())
                    except RPCError as error:
                        assert error.status == RPCStatusCode.UNAVAILABLE, error.message
                        break
                    await asyncio.sleep(0.1)
                while await _health(server) != health_pb2.HealthCheckResponse.NOT_SERVING:
                    await asyncio.sleep(0.2)
                await _allow_connections(url, True)
                while await _health(server) != health_pb2.HealthCheckResponse.SERVING:
                    await asyncio.sleep(0.2)
            await client.workflow_service.start_workflow_execution(_start())
            assert server.proc is not None and server.proc.poll() is None
        finally:
            server.stop()
            await _allow_connections(url, True)
