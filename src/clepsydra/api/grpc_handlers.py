"""Serve a gRPC service from its descriptor and its RPC table (`rpc_table.py`).

Message classes come from the descriptors shipped with the API packages, so no
generated servicer boilerplate is needed, and an RPC with no implementation gets
an UNIMPLEMENTED answer that names it.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import status_pb2

from clepsydra.api.rpc_table import Handler, RpcTable
from clepsydra.errors import ConditionFailed, ServiceError

log = logging.getLogger(__name__)


def generic_handler(descriptor: ServiceDescriptor, table: RpcTable) -> grpc.GenericRpcHandler:
    """Serve each RPC of the service with its handler in `table`."""
    handlers = {}
    for method in descriptor.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        implemented = table.get(method.name)
        behavior = _guarded(implemented) if implemented else _unimplemented(descriptor, method.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


def _guarded(handler: Handler) -> Handler:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(request, context)
        except ServiceError as error:
            await abort(context, error)
        except ConditionFailed:  # changed by another process again and again: the caller retries
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the workflow changed meanwhile; try again")
        except Exception:
            log.exception("internal error in %s", handler.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error")

    behavior.__name__ = handler.__name__
    return behavior


def _unimplemented(descriptor: ServiceDescriptor, name: str) -> Handler:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{descriptor.name}.{name} is not implemented by Clepsydra yet",
        )

    return behavior


async def abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    """Fail the call with the error's code, message and typed detail (as Temporal does)."""
    code = getattr(grpc.StatusCode, error.code_name)
    status = status_pb2.Status(code=code.value[0], message=error.message)
    if error.detail is not None:
        packed = any_pb2.Any()
        packed.Pack(error.detail)
        status.details.append(packed)
    await context.abort(
        code,
        error.message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )
