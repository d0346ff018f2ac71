"""Serve each request for a workflow at the process that owns the workflow.

The owner holds what lives only in memory (admitted updates, pending queries, history
long polls, the cached state), so a request that names a workflow owned elsewhere is
forwarded there, whether it came over gRPC or HTTP. Which workflow a request names is
read off the request itself: a workflow id, an execution, an update reference or a task
token. A request whose owner cannot be reached is served here, through the database:
every write is conditioned on the version it read, so this is safe, only slower.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from clepsydra.cluster.membership import SharedMembership
from clepsydra.cluster.peers import Peers, forwarded
from clepsydra.engine import standalone_activities, standalone_nexus
from clepsydra.errors import InvalidArgument, ServiceError
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.tokens import TokenTarget

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Awaitable[Any]]
# RPC name → its handler (see api/rpc_table.py).
RpcTable = dict[str, Handler]
# Served here and passed on to every other process: a worker that shuts down may have
# workflow tasks waiting on its sticky queue at any of them.
BROADCAST = {"ShutdownWorker"}
BROADCAST_TIMEOUT = 5.0
# The worker registry's RPCs, served for each namespace by the owner of this pseudo-workflow.
WORKER_REGISTRY = {"RecordWorkerHeartbeat", "ListWorkers", "CountWorkers", "DescribeWorker"}
WORKER_REGISTRY_ID = "temporal-sys-worker-registry"


@dataclass(frozen=True)
class Target:
    """The workflow a request names: by namespace name, or by id (task tokens carry ids)."""

    workflow_id: str
    namespace: str = ""
    namespace_id: str = ""
    # The process to serve it, whoever owns the workflow now (a query's answer goes to the
    # process where its client waits).
    process: str = ""


def _from_token(request: Any) -> Target | None:
    """Task tokens (and query task tokens) name namespace and workflow ids."""
    try:
        token = TokenTarget.of(request.task_token)
    except InvalidArgument:
        return None  # served here, which answers with the right error
    return Target(token.workflow_id, namespace_id=token.namespace_id, process=token.process)


def _from_operations(request: Any) -> Target | None:
    for operation in request.operations:
        if operation.HasField("start_workflow"):
            return Target(operation.start_workflow.workflow_id, request.namespace)
    return None


def _from_execution(field: str) -> Callable[[Any], Target]:
    return lambda r: Target(getattr(r, field).workflow_id, r.namespace)


def route_of(method: MethodDescriptor) -> Callable[[Any], Target | None] | None:
    """How to find the workflow a method's requests name; None for methods that name none."""
    fields = method.input_type.fields_by_name
    if method.name in WORKER_REGISTRY:  # a namespace's workers are all known at one process
        return lambda r: Target(WORKER_REGISTRY_ID, r.namespace)
    if "task_token" in fields:
        return _from_token
    if "activity_id" in fields and "workflow_id" in fields:  # a workflow's activity, or a standalone one
        return lambda r: Target(
            r.workflow_id or standalone_activities.workflow_id_of(r.activity_id), r.namespace
        )
    if "workflow_id" in fields:
        return lambda r: Target(r.workflow_id, r.namespace)
    if "activity_id" in fields:  # a standalone activity
        return lambda r: Target(standalone_activities.workflow_id_of(r.activity_id), r.namespace)
    if "operation_id" in fields:  # a standalone Nexus operation
        return lambda r: Target(standalone_nexus.workflow_id_of(r.operation_id), r.namespace)
    for name in ("workflow_execution", "execution"):
        message = fields[name].message_type if name in fields else None
        if message is not None and message.name == "WorkflowExecution":
            return _from_execution(name)
    if "update_ref" in fields:
        return lambda r: Target(r.update_ref.workflow_execution.workflow_id, r.namespace)
    if "operations" in fields:
        return _from_operations
    return None


class Router:
    def __init__(self, membership: SharedMembership, namespaces: Namespaces, peers: Peers) -> None:
        self.membership = membership
        self.namespaces = namespaces
        self.peers = peers

    def wrap(self, service: ServiceDescriptor, table: RpcTable) -> RpcTable:
        """The service's RPC table, with each RPC that names a workflow served by its owner."""
        by_name = {method.name: method for method in service.methods}
        return {name: self.routed(service, by_name[name], handler) for name, handler in table.items()}

    async def owner_of(self, target: Target) -> str | None:
        """The address of the process that owns the target, if it is another one."""
        if target.process:
            return target.process if target.process != self.membership.address else None
        namespace_id = target.namespace_id
        if not namespace_id:
            try:
                namespace_id = await self.namespaces.id_of(target.namespace)
            except ServiceError:
                return None  # served here, which answers with the right error
        return self.membership.owner_elsewhere(namespace_id, target.workflow_id)

    def routed(self, service: ServiceDescriptor, method: MethodDescriptor, handler: Handler) -> Handler:
        if method.name in BROADCAST:
            return self._broadcast(method, handler)
        route = route_of(method)
        if route is None:
            return handler
        path = f"{service.name}.{method.name}"
        response_class = message_factory.GetMessageClass(method.output_type)

        async def behavior(request: Any, context: Any) -> Any:
            target = route(request)
            address = None if target is None or forwarded(context) else await self.owner_of(target)
            if address is None:
                return await handler(request, context)
            try:
                return await self.peers.call(
                    address, method.name, request, response_class, context.time_remaining()
                )
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    await context.abort(
                        error.code(), error.details() or "", tuple(error.trailing_metadata() or ())
                    )
                log.debug("%s: owner %s unavailable, serving here", path, address)
                return await handler(request, context)

        behavior.__name__ = method.name
        return behavior

    def _broadcast(self, method: MethodDescriptor, handler: Handler) -> Handler:
        response_class = message_factory.GetMessageClass(method.output_type)

        async def behavior(request: Any, context: Any) -> Any:
            response = await handler(request, context)
            if not forwarded(context):
                calls = [
                    self.peers.call(address, method.name, request, response_class, BROADCAST_TIMEOUT)
                    for address in self.membership.others()
                ]
                for outcome in await asyncio.gather(*calls, return_exceptions=True):
                    if isinstance(outcome, Exception):
                        log.debug("%s not passed on: %s", method.name, outcome)
            return response

        behavior.__name__ = method.name
        return behavior
