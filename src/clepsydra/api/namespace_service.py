"""WorkflowService RPCs on namespaces: register, describe, list, update, deprecate."""

from __future__ import annotations

import grpc
from temporalio.api.workflowservice.v1 import (
    DeprecateNamespaceRequest,
    DeprecateNamespaceResponse,
    DescribeNamespaceRequest,
    DescribeNamespaceResponse,
    ListNamespacesRequest,
    ListNamespacesResponse,
    RegisterNamespaceRequest,
    RegisterNamespaceResponse,
    UpdateNamespaceRequest,
    UpdateNamespaceResponse,
)

from clepsydra.services.namespaces import Namespaces
from clepsydra.services.page_tokens import offset_of, offset_token

Context = grpc.aio.ServicerContext


class NamespaceService:
    def __init__(self, namespaces: Namespaces) -> None:
        self.namespaces = namespaces

    async def RegisterNamespace(
        self, request: RegisterNamespaceRequest, context: Context
    ) -> RegisterNamespaceResponse:
        await self.namespaces.register(request)
        return RegisterNamespaceResponse()

    async def DescribeNamespace(
        self, request: DescribeNamespaceRequest, context: Context
    ) -> DescribeNamespaceResponse:
        return await self.namespaces.describe(request.namespace, request.id)

    async def ListNamespaces(
        self, request: ListNamespacesRequest, context: Context
    ) -> ListNamespacesResponse:
        described = await self.namespaces.list(request.namespace_filter.include_deleted)
        start = offset_of(request.next_page_token)
        size = request.page_size if request.page_size > 0 else len(described)
        page = described[start : start + size]
        token = b""
        if start + size < len(described):
            token = offset_token(start + size)
        return ListNamespacesResponse(namespaces=page, next_page_token=token)

    async def UpdateNamespace(
        self, request: UpdateNamespaceRequest, context: Context
    ) -> UpdateNamespaceResponse:
        updated = await self.namespaces.update(request)
        return UpdateNamespaceResponse(
            namespace_info=updated.namespace_info,
            config=updated.config,
            replication_config=updated.replication_config,
            failover_version=updated.failover_version,
            is_global_namespace=updated.is_global_namespace,
        )

    async def DeprecateNamespace(
        self, request: DeprecateNamespaceRequest, context: Context
    ) -> DeprecateNamespaceResponse:
        await self.namespaces.deprecate(request.namespace)
        return DeprecateNamespaceResponse()
