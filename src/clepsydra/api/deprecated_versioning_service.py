"""The worker versioning APIs that worker deployments replaced, refused as the reference
refuses them, so that an old client learns what to use instead."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

from clepsydra.errors import PermissionDenied, Unimplemented

Context = grpc.aio.ServicerContext

_DEPLOYMENTS = "Deployments are deprecated and no longer supported, use Worker Deployments instead"
_RULES = "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace."
_VERSION_SETS = "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace."


class DeprecatedVersioningService:
    async def DescribeDeployment(self, request: Any, context: Context) -> NoReturn:
        raise Unimplemented(_DEPLOYMENTS)

    async def ListDeployments(self, request: Any, context: Context) -> NoReturn:
        raise Unimplemented(_DEPLOYMENTS)

    async def GetDeploymentReachability(self, request: Any, context: Context) -> NoReturn:
        raise Unimplemented(_DEPLOYMENTS)

    async def GetCurrentDeployment(self, request: Any, context: Context) -> NoReturn:
        raise Unimplemented(_DEPLOYMENTS)

    async def SetCurrentDeployment(self, request: Any, context: Context) -> NoReturn:
        raise Unimplemented(_DEPLOYMENTS)

    async def GetWorkerVersioningRules(self, request: Any, context: Context) -> NoReturn:
        raise PermissionDenied(_RULES)

    async def UpdateWorkerVersioningRules(self, request: Any, context: Context) -> NoReturn:
        raise PermissionDenied(_RULES)

    async def GetWorkerTaskReachability(self, request: Any, context: Context) -> NoReturn:
        raise PermissionDenied(_RULES)

    async def GetWorkerBuildIdCompatibility(self, request: Any, context: Context) -> NoReturn:
        raise PermissionDenied(_VERSION_SETS)

    async def UpdateWorkerBuildIdCompatibility(self, request: Any, context: Context) -> NoReturn:
        raise PermissionDenied(_VERSION_SETS)
