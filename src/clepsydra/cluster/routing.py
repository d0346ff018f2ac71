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
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from clepsydra.cluster.membership import Membership
from clepsydra.cluster.peers import Peers, forwarded
from clepsydra.errors import ServiceError
from clepsydra.services.namespaces import Namespaces

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Awaitable[Any]]
# Served here and passed on to every other process: a worker that shuts down may have
# workflow tasks waiting on its sticky queue at any of them.
BROADCAST = {"ShutdownWorker"}
BROADCAST_TIMEOUT = 5.0


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
    """Task tokens (and query task tokens) are JSON objects naming namespace and workflow ids."""
    try:
        fields = json.loads(request.task_token)
        return Target(
            str(fields["workflow_id"]),
            namespace_id=str(fields["namespace_id"]),
            process=fields.get("process", ""),
        )
    except (ValueError, KeyError, TypeError):
        return None  # served here, which answers with the right error


def _from_operations(request: Any) -> Target | None:
    for operation in request.operations:
        if operation.HasField("start_workflow"):
            return Target(operation.start_workflow.workflow_id, request.namespace)
    return None


def route_of(method: MethodDescriptor) -> Callable[[Any], Target | None] | None:
    """How to find the workflow a method's requests name; None for methods that name none."""
    fields = method.input_type.fields_by_name
    if "task_token" in fields:
        return _from_token
    if "workflow_id" in fields:
        return lambda r: Target(r.workflow_id, r.namespace)
    for name in ("workflow_execution", "execution"):
        if name in fields and fields[name].message_type.name == "WorkflowExecution":
            return lambda r, name=name: Target(getattr(r, name).workflow_id, r.namespace)
    if "update_ref" in fields:
        return lambda r: Target(r.update_ref.workflow_execution.workflow_id, r.namespace)
    if "operations" in fields:
        return _from_operations
    return None


class Router:
    def __init__(self, membership: Membership, namespaces: Namespaces, peers: Peers) -> None:
        self.membership = membership
        self.namespaces = namespaces
        self.peers = peers

    def wrap(self, service: ServiceDescriptor, implementations: list[object]) -> list[object]:
        """The implementations of a service, with each RPC that names a workflow served by
        its owner."""
        return [_Routed(self, service, implementations)]

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


class _Routed:
    """Looks like the implementations it wraps, with routed methods."""

    def __init__(self, router: Router, service: ServiceDescriptor, implementations: list[object]) -> None:
        self._methods: dict[str, Handler] = {}
        for method in service.methods:
            handler = next(
                (getattr(i, method.name) for i in implementations if hasattr(i, method.name)), None
            )
            if handler is not None:
                self._methods[method.name] = router.routed(service, method, handler)

    def __getattr__(self, name: str) -> Handler:
        try:
            return self._methods[name]
        except KeyError:
            raise AttributeError(name) from None
