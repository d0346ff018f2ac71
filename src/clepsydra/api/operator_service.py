"""temporal.api.operatorservice.v1.OperatorService: search attributes, namespace deletion and
cluster information, as the CLI's `temporal operator` commands use them. The other RPCs
answer UNIMPLEMENTED (see grpc_handlers)."""

from __future__ import annotations

import grpc
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    AddSearchAttributesResponse,
    ClusterMetadata,
    DeleteNamespaceRequest,
    DeleteNamespaceResponse,
    ListClustersRequest,
    ListClustersResponse,
    ListSearchAttributesRequest,
    ListSearchAttributesResponse,
    RemoveSearchAttributesRequest,
    RemoveSearchAttributesResponse,
)

from clepsydra.cleanup.reclaim import NamespaceReclaimer
from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import CLUSTER_NAME, Namespaces
from clepsydra.services.search_attributes import SearchAttributeRegistry
from clepsydra.visibility.attributes import system_types

Context = grpc.aio.ServicerContext
NOT_SET = "Namespace is not set on request."


class OperatorService:
    def __init__(
        self,
        namespaces: Namespaces,
        registry: SearchAttributeRegistry,
        reclaimer: NamespaceReclaimer,
        address: str,
    ) -> None:
        self.namespaces = namespaces
        self.registry = registry
        self.reclaimer = reclaimer
        self.address = address

    async def AddSearchAttributes(
        self, request: AddSearchAttributesRequest, context: Context
    ) -> AddSearchAttributesResponse:
        if not request.namespace:
            raise InvalidArgument(NOT_SET)
        await self.registry.add(request.namespace, dict(request.search_attributes))
        return AddSearchAttributesResponse()

    async def RemoveSearchAttributes(
        self, request: RemoveSearchAttributesRequest, context: Context
    ) -> RemoveSearchAttributesResponse:
        if not request.namespace:
            raise InvalidArgument(NOT_SET)
        await self.registry.remove(request.namespace, list(request.search_attributes))
        return RemoveSearchAttributesResponse()

    async def ListSearchAttributes(
        self, request: ListSearchAttributesRequest, context: Context
    ) -> ListSearchAttributesResponse:
        if not request.namespace:
            raise InvalidArgument(NOT_SET)
        custom = await self.registry.custom(request.namespace)
        return ListSearchAttributesResponse(
            custom_attributes={name: t.indexed_value_type for name, t in custom.items()},
            system_attributes={name: t.indexed_value_type for name, t in system_types().items()},
            storage_schema={},
        )

    async def DeleteNamespace(
        self, request: DeleteNamespaceRequest, context: Context
    ) -> DeleteNamespaceResponse:
        if not request.namespace and not request.namespace_id:
            raise InvalidArgument("Namespace not set on request.")
        deleted = await self.namespaces.mark_deleted(request.namespace, request.namespace_id)
        self.reclaimer.start()
        return DeleteNamespaceResponse(deleted_namespace=deleted)

    async def ListClusters(self, request: ListClustersRequest, context: Context) -> ListClustersResponse:
        return ListClustersResponse(
            clusters=[
                ClusterMetadata(
                    cluster_name=CLUSTER_NAME,
                    cluster_id="clepsydra",
                    address=self.address,
                    initial_failover_version=1,
                    history_shard_count=1,
                    is_connection_enabled=True,
                )
            ]
        )
