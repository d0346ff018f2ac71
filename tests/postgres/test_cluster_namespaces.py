"""Namespaces on a database shared by several processes: each process serves them from a
cache of its own, which must learn of what another process registered or changed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import UpdateNamespaceInfo
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client

from tests.postgres.test_failover import GUARD, cluster


async def test_a_namespace_changed_through_one_process_is_seen_by_the_others(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (a, b):
        via_a, via_b = await Client.connect(a.target), await Client.connect(b.target)
        await via_a.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace="orders",
                description="before",
                workflow_execution_retention_period=Duration(seconds=int(timedelta(days=3).total_seconds())),
            )
        )
        describe = DescribeNamespaceRequest(namespace="orders")
        seen = await via_b.workflow_service.describe_namespace(describe)
        assert seen.namespace_info.description == "before"

        await via_a.workflow_service.update_namespace(
            UpdateNamespaceRequest(namespace="orders", update_info=UpdateNamespaceInfo(description="after"))
        )
        async with asyncio.timeout(GUARD):  # B's cached copy is read again within seconds
            while (
                await via_b.workflow_service.describe_namespace(describe)
            ).namespace_info.description != "after":
                await asyncio.sleep(0.5)
