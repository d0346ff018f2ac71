"""Worker deployments on a database shared by several processes: versions that workers
register at one process and routing that an operator moves at another steer the tasks of
workflows owned by either."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client

from tests.integration.test_worker_deployments import PinnedWorkflow, _eventually, _finish, _workers
from tests.postgres.test_failover import GUARD, cluster


async def test_routing_set_at_one_process_steers_tasks_at_the_other(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (a, b):
        via_a, via_b = await Client.connect(a.target), await Client.connect(b.target)
        deployment, task_queue = f"dep-{uuid.uuid4().hex[:8]}", f"cluster-deployments-{uuid.uuid4()}"
        async with _workers(via_a, task_queue, deployment, "b1", "b2"):
            for build_id in ("b1", "b2"):
                await via_b.workflow_service.set_worker_deployment_current_version(
                    SetWorkerDeploymentCurrentVersionRequest(
                        namespace="default", deployment_name=deployment, build_id=build_id
                    )
                )
                # The other process hears of it (a NOTIFY) in moments; its task queue says so.
                await _eventually(lambda b=build_id: _current_at(via_a, task_queue, b))
                # Workflows on both processes' shards.
                handles = [
                    await via_b.start_workflow(
                        PinnedWorkflow.run, id=f"{build_id}-{i}-{uuid.uuid4()}", task_queue=task_queue
                    )
                    for i in range(4)
                ]
                async with asyncio.timeout(GUARD):
                    assert [await _finish(h) for h in handles] == [build_id] * 4
            described = await via_a.workflow_service.describe_worker_deployment(
                DescribeWorkerDeploymentRequest(namespace="default", deployment_name=deployment)
            )
            assert described.worker_deployment_info.routing_config.current_deployment_version.build_id == "b2"


async def _current_at(client: Client, task_queue: str, build_id: str) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace="default", task_queue=TaskQueue(name=task_queue))
    )
    return described.versioning_info.current_deployment_version.build_id == build_id
