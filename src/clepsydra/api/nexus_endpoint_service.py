"""OperatorService's Nexus endpoint RPCs, as `temporal operator nexus endpoint` calls them."""

from __future__ import annotations

import grpc
from temporalio.api.operatorservice.v1 import (
    CreateNexusEndpointRequest,
    CreateNexusEndpointResponse,
    DeleteNexusEndpointRequest,
    DeleteNexusEndpointResponse,
    GetNexusEndpointRequest,
    GetNexusEndpointResponse,
    ListNexusEndpointsRequest,
    ListNexusEndpointsResponse,
    UpdateNexusEndpointRequest,
    UpdateNexusEndpointResponse,
)

from clepsydra.services.nexus_endpoints import NexusEndpoints

Context = grpc.aio.ServicerContext


class NexusEndpointService:
    def __init__(self, endpoints: NexusEndpoints) -> None:
        self.endpoints = endpoints

    async def CreateNexusEndpoint(
        self, request: CreateNexusEndpointRequest, context: Context
    ) -> CreateNexusEndpointResponse:
        return CreateNexusEndpointResponse(endpoint=await self.endpoints.create(request.spec))

    async def UpdateNexusEndpoint(
        self, request: UpdateNexusEndpointRequest, context: Context
    ) -> UpdateNexusEndpointResponse:
        endpoint = await self.endpoints.update(request.id, request.version, request.spec)
        return UpdateNexusEndpointResponse(endpoint=endpoint)

    async def DeleteNexusEndpoint(
        self, request: DeleteNexusEndpointRequest, context: Context
    ) -> DeleteNexusEndpointResponse:
        await self.endpoints.delete(request.id, request.version)
        return DeleteNexusEndpointResponse()

    async def GetNexusEndpoint(
        self, request: GetNexusEndpointRequest, context: Context
    ) -> GetNexusEndpointResponse:
        return GetNexusEndpointResponse(endpoint=await self.endpoints.get(request.id))

    async def ListNexusEndpoints(
        self, request: ListNexusEndpointsRequest, context: Context
    ) -> ListNexusEndpointsResponse:
        return await self.endpoints.list(request)
