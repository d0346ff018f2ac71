"""Serve a gRPC service from its descriptor and its RPC table (`rpc_table.py`).

Message classes come from the descriptors shipped with the API packages, so no
generated servicer boilerplate is needed, and an RPC with no implementation gets
an UNIMPLEMENTED answer that names it. Given an `RpcRecorder`, every RPC's outcome
and latency is reported to it (the server's metrics); without one, handlers are
wrapped exactly as before, at no cost.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any, Protocol

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import status_pb2

from clepsydra.api.rpc_table import Handler, RpcTable
from clepsydra.errors import ConditionFailed, ServiceError
from clepsydra.store import faults

log = logging.getLogger(__name__)
RETRY_MESSAGE = "the workflow changed meanwhile; try again"
INTERNAL_MESSAGE = "internal server error"


class RpcRecorder(Protocol):
    def record(
        self,
        operation: str,
        seconds: float,
        code: grpc.StatusCode,
        detail: Message | None,
        request: Message,
        response: Message | None,
    ) -> None:
        """An RPC was answered: `code` OK (with `response`), or the error's code and the typed
        detail sent with it."""


def generic_handler(
    descriptor: ServiceDescriptor, table: RpcTable, recorder: RpcRecorder | None = None
) -> grpc.GenericRpcHandler:
    """Serve each RPC of the service with its handler in `table`."""
    handlers = {}
    for method in descriptor.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        implemented = table.get(method.name)
        if implemented:
            behavior = _guarded(implemented, method.name, recorder)
        else:
            behavior = _unimplemented(descriptor, method.name)
            if recorder is not None:  # which RPCs clients want that are not served yet
                behavior = _guarded(behavior, method.name, recorder)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


def _guarded(handler: Handler, operation: str, recorder: RpcRecorder | None = None) -> Handler:
    if recorder is not None:
        return _recorded(handler, operation, recorder)

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(request, context)
        except grpc.aio.AbortError:  # the handler answered with an error itself (a forwarded call's)
            raise
        except Exception as error:
            await _fail(context, error, operation)

    behavior.__name__ = handler.__name__
    return behavior


def _recorded(handler: Handler, operation: str, recorder: RpcRecorder) -> Handler:
    """`_guarded`, reporting each call's outcome and latency to `recorder`."""

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = perf_counter()
        code, detail, response = grpc.StatusCode.OK, None, None
        try:
            response = await handler(request, context)
            return response
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except asyncio.CancelledError:  # the client went away or its deadline passed
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as error:
            code, detail = _status(error)
            await _fail(context, error, operation)
        finally:
            recorder.record(operation, perf_counter() - started, code, detail, request, response)

    behavior.__name__ = handler.__name__
    return behavior


def _status(error: Exception) -> tuple[grpc.StatusCode, Message | None]:
    """The status code and typed detail that `_fail` answers `error` with."""
    if isinstance(error, ServiceError):
        return getattr(grpc.StatusCode, error.code_name), error.detail
    if isinstance(error, ConditionFailed) or faults.unavailable(error) is not None:
        return grpc.StatusCode.UNAVAILABLE, None
    return grpc.StatusCode.INTERNAL, None


async def _fail(context: grpc.aio.ServicerContext, error: Exception, operation: str) -> None:
    """Answer the call with `error` (raised in the handler), as the reference would."""
    if isinstance(error, ServiceError):
        await abort(context, error)
    elif isinstance(error, ConditionFailed):  # changed by another process again and again: the caller retries
        await context.abort(grpc.StatusCode.UNAVAILABLE, RETRY_MESSAGE)
    elif (fault := faults.unavailable(error)) is not None:  # the database, for now: the caller retries
        log.warning("%s: %s", operation, fault.message)
        await abort(context, fault)
    else:
        log.exception("internal error in %s", operation)
        await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)


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
