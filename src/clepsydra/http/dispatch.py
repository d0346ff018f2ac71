"""Calls an RPC with the very handlers the gRPC server serves.

The server keeps, per service, the table from each RPC to its handler (`api/rpc_table.py`)
and hands the same tables to the gRPC server and here, so HTTP and gRPC share one
implementation of every RPC.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from clepsydra.errors import ServiceError
from clepsydra.http.context import HttpContext
from clepsydra.http.status import RpcStatus
from clepsydra.store import faults

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Awaitable[Any]]


class Dispatcher:
    def __init__(self, tables: Mapping[str, Mapping[str, Handler]]) -> None:
        """`tables`: service full name → RPC name → its handler."""
        self._tables = tables

    def handler(self, method: MethodDescriptor) -> Handler | None:
        return self._tables.get(method.containing_service.full_name, {}).get(method.name)

    @staticmethod
    def request_class(method: MethodDescriptor) -> type[Message]:
        return message_factory.GetMessageClass(method.input_type)

    async def call(self, method: MethodDescriptor, request: Message, context: HttpContext) -> Message:
        """The response, or RpcStatus with the code, message and details gRPC would have sent."""
        handler = self.handler(method)
        if handler is None:
            service = method.containing_service.name
            raise RpcStatus(
                grpc.StatusCode.UNIMPLEMENTED, f"{service}.{method.name} is not implemented by Clepsydra yet"
            )
        try:
            response = await handler(request, context)
        except ServiceError as error:
            raise RpcStatus.of(error.code_name, error.message, error.detail) from None
        except RpcStatus:
            raise
        except Exception as error:
            if (fault := faults.unavailable(error)) is not None:
                log.warning("%s over HTTP: %s", method.full_name, fault.message)
                raise RpcStatus.of(fault.code_name, fault.message) from None
            log.exception("internal error in %s over HTTP", method.full_name)
            raise RpcStatus(grpc.StatusCode.INTERNAL, "internal server error") from None
        if (failure := context.failure()) is not None:
            raise failure
        return response
