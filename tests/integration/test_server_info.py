"""What the server says about itself and its task queues: GetSystemInfo, DescribeTaskQueue in
both modes (the official CLI's legacy mode included) and the gRPC health service."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio import workflow
from temporalio.api.enums.v1 import DescribeTaskQueueMode, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeTaskQueueResponse,
    GetSystemInfoRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from tests.server_process import ServerProcess

TEMPORAL = Path(sys.executable).parent / "temporal"


@workflow.defn
class Quick:
    @workflow.run
    async def run(self) -> None:
        return None


async def test_capabilities_say_what_works(client: Client) -> None:
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    capabilities = info.capabilities
    for name in (
        "signal_and_query_header",
        "internal_error_differentiation",
        "activity_failure_include_heartbeat",
        "supports_schedules",
        "encoded_failure_attributes",
        "upsert_memo",
        "eager_workflow_start",
        "sdk_metadata",
        "count_group_by_execution_status",
    ):
        assert getattr(capabilities, name), name


async def _describe(
    client: Client, task_queue: str, mode: DescribeTaskQueueMode.ValueType
) -> DescribeTaskQueueResponse:
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
            include_task_queue_status=True,
            api_mode=mode,
        )
    )


async def test_task_queue_status_and_rates(client: Client, task_queue: str) -> None:
    handles = [
        await client.start_workflow(Quick.run, id=f"{task_queue}-{i}", task_queue=task_queue)
        for i in range(3)
    ]
    legacy = await _describe(client, task_queue, DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_UNSPECIFIED)
    status = legacy.task_queue_status
    assert status.rate_per_second > 0
    assert 0 < status.task_id_block.start_id < status.task_id_block.end_id
    assert legacy.stats.approximate_backlog_count == 3
    assert legacy.stats.tasks_add_rate > 0
    assert legacy.stats.approximate_backlog_age.ToTimedelta() > timedelta(0)
    async with Worker(client, task_queue=task_queue, workflows=[Quick]):
        await asyncio.gather(*(h.result() for h in handles))
    enhanced = await _describe(client, task_queue, DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED)
    stats = enhanced.versions_info[""].types_info[TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW].stats
    assert stats.tasks_add_rate > 0
    assert stats.tasks_dispatch_rate > 0


def test_the_official_cli_describes_a_task_queue_in_legacy_mode(
    server: ServerProcess, task_queue: str
) -> None:
    out = subprocess.run(
        [str(TEMPORAL), "task-queue", "describe", "--task-queue", task_queue, "--legacy-mode",
         "--address", server.target, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    described = json.loads(out.stdout)
    assert described["taskQueues"][0]["rate_per_second"] > 0


async def test_grpc_health_answers_the_services_the_reference_answers(server: ServerProcess) -> None:
    async with grpc.aio.insecure_channel(server.target) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
        for service in (
            "",
            "temporal.api.workflowservice.v1.WorkflowService",
            "temporal.api.operatorservice.v1.OperatorService",
        ):
            answer = await check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        for unknown in ("temporal.server.api.historyservice.v1.HistoryService", "grpc.health.v1.Health"):
            try:
                await check(health_pb2.HealthCheckRequest(service=unknown))
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
            else:
                raise AssertionError(f"{unknown} answered")
