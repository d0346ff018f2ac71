"""Namespaces: registered in the store, cached in memory (they change rarely)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.enums.v1 import ArchivalState, NamespaceState, ReplicationState
from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure
from temporalio.api.namespace.v1 import NamespaceConfig, NamespaceInfo
from temporalio.api.replication.v1 import ClusterReplicationConfig, NamespaceReplicationConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceResponse,
    RegisterNamespaceRequest,
)

from clepsydra.errors import AlreadyExists, InvalidArgument, NotFound
from clepsydra.store.base import NamespaceRecord, Store

CLUSTER_NAME = "active"
DEFAULT_NAMESPACE = "default"
DEV_RETENTION = timedelta(hours=24)
MIN_RETENTION = timedelta(hours=1)


class Namespaces:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_name: dict[str, DescribeNamespaceResponse] = {}

    async def ensure(self, name: str, retention: timedelta = DEV_RETENTION) -> None:
        """Create the namespace if it does not exist yet (start-up namespaces)."""
        if await self._store.get_namespace(name) is None:
            await self._store.create_namespace(_record(_describe(name, retention, "", "", {})))

    async def register(self, request: RegisterNamespaceRequest) -> None:
        if not request.namespace:
            raise InvalidArgument("Namespace is empty.")
        retention = request.workflow_execution_retention_period.ToTimedelta() or timedelta(days=3)
        if retention < MIN_RETENTION:
            raise InvalidArgument("Retention period must be at least 1 hour.")
        description = _describe(
            request.namespace,
            retention,
            request.description,
            request.owner_email,
            dict(request.data),
        )
        if not await self._store.create_namespace(_record(description)):
            raise AlreadyExists("Namespace already exists.")

    async def describe(self, name: str = "", namespace_id: str = "") -> DescribeNamespaceResponse:
        if not name and not namespace_id:
            raise InvalidArgument("Namespace is empty.")
        if namespace_id and not name:
            for record in await self._store.list_namespaces():
                if record.id == namespace_id:
                    return _parse(record)
            raise NotFound(f"Namespace {namespace_id} is not found.")
        cached = self._by_name.get(name)
        if cached is not None:
            return cached
        record = await self._store.get_namespace(name)
        if record is None:
            raise NotFound(f"Namespace {name} is not found.", NamespaceNotFoundFailure(namespace=name))
        self._by_name[name] = _parse(record)
        return self._by_name[name]

    async def id_of(self, name: str) -> str:
        return (await self.describe(name)).namespace_info.id

    async def list(self) -> list[DescribeNamespaceResponse]:
        return [_parse(record) for record in await self._store.list_namespaces()]


def _describe(
    name: str, retention: timedelta, description: str, owner: str, data: dict[str, str]
) -> DescribeNamespaceResponse:
    config = NamespaceConfig(
        history_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
        visibility_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
    )
    config.workflow_execution_retention_ttl.FromTimedelta(retention)
    return DescribeNamespaceResponse(
        namespace_info=NamespaceInfo(
            name=name,
            state=NamespaceState.NAMESPACE_STATE_REGISTERED,
            description=description,
            owner_email=owner,
            data=data,
            id=str(uuid.uuid4()),
        ),
        config=config,
        replication_config=NamespaceReplicationConfig(
            active_cluster_name=CLUSTER_NAME,
            clusters=[ClusterReplicationConfig(cluster_name=CLUSTER_NAME)],
            state=ReplicationState.REPLICATION_STATE_NORMAL,
        ),
        is_global_namespace=False,
    )


def _record(description: DescribeNamespaceResponse) -> NamespaceRecord:
    info = description.namespace_info
    return NamespaceRecord(info.id, info.name, description.SerializeToString())


def _parse(record: NamespaceRecord) -> DescribeNamespaceResponse:
    return DescribeNamespaceResponse.FromString(record.data)
