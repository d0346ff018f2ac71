"""Calls an RPC on the very objects the gRPC server serves.

`Server` keeps, per service, the list of implementation objects it hands to
`api.grpc_handlers.generic_handler`; each RPC goes to the first object that has a coroutine
of its name, here as there, so HTTP and gRPC share one implementation of every RPC.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from clepsydra.errors import ServiceError
from clepsydra.http.context import HttpContext
from clepsydra.http.status import RpcStatus

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Awaitable[Any]]


class Dispatcher:
    def __init__(self, implementations: Mapping[str, Sequence[object]]) -> None:
        """`implementations`: service full name → the objects that implement its RPCs, in order."""
        self._implementations = implementations

    def handler(self, method: MethodDescriptor) -> Handler | None:
        for implementation in self._implementations.get(method.containing_service.full_name, ()):
            if hasattr(implementation, method.name):
                return getattr(implementation, method.name)
        return None

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
        except Exception:
            log.exception("internal error in %s over HTTP", method.full_name)
            raise RpcStatus(grpc.StatusCode.INTERNAL, "internal server error") from None
        if (failure := context.failure()) is not None:
            raise failure
        return response
