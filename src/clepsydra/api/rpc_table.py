"""Which coroutine serves each RPC: the one map from an RPC to its handler, built once.

Each RPC of a service is served by the coroutine of its name on exactly one of the objects
given for the service (`WorkflowService`, `WorkerService`, `NamespaceService`, ...); two
objects defining the same RPC is a mistake, refused at start-up rather than resolved by
order. gRPC (`grpc_handlers.py`), the cluster's forwarding (`cluster/routing.py`) and the
HTTP API (`http/dispatch.py`) all serve from this map. Every handler receives its request
with durations and times in bounds (`bounds.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

from clepsydra.api import request_context
from clepsydra.api.bounds import bounded

Handler = Callable[[Any, Any], Awaitable[Any]]
# RPC (method) name → its handler; an RPC missing from it is not implemented.
RpcTable = dict[str, Handler]


def rpc_table(service: ServiceDescriptor, implementations: Iterable[object]) -> RpcTable:
    table: RpcTable = {}
    owners: dict[str, str] = {}
    for implementation in implementations:
        for method in service.methods:
            handler = getattr(implementation, method.name, None)
            if handler is None:
                continue
            owner = type(implementation).__name__
            if method.name in table:
                served = f"{service.name}.{method.name} is served by both"
                raise TypeError(f"{served} {owners[method.name]} and {owner}")
            table[method.name] = _serving(method.name, bounded(method.input_type, handler))
            owners[method.name] = owner
    return table


def _serving(name: str, handler: Handler) -> Handler:
    """`handler`, with the call it serves known to what it logs (`request_context`)."""

    async def serve(request: Any, context: Any) -> Any:
        token = request_context.CURRENT.set((name, request))
        try:
            return await handler(request, context)
        finally:
            request_context.CURRENT.reset(token)

    serve.__name__ = getattr(handler, "__name__", name)
    return serve
