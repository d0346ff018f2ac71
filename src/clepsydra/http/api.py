"""The HTTP/JSON API as an ASGI app: route, build the request message, call, answer in JSON.

One request runs as one task on the server's event loop, so a long poll (a history wait, a
task poll) holds its connection without holding up any other request; if the client goes
away, the call is cancelled as a cancelled gRPC call would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clepsydra.http import params, protojson
from clepsydra.http.context import HttpContext, parse_grpc_timeout
from clepsydra.http.dispatch import Dispatcher
from clepsydra.http.routes import NoRoute, Route, Router
from clepsydra.http.status import RpcStatus

log = logging.getLogger(__name__)
NO_SHORTHAND_TYPE = "application/json+no-payload-shorthand"
NO_SHORTHAND_PARAM = "noPayloadShorthand"
SHUTTING_DOWN = "the server is shutting down"
LARGE_RESPONSE_BYTES = 256 * 1024
MAX_BODY_BYTES = 128 * 1024 * 1024  # as the gRPC server's message limit


class HttpApi:
    def __init__(self, router: Router, dispatcher: Dispatcher, shorthand: bool = True) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.shorthand = shorthand
        self._calls: set[asyncio.Task[Message]] = set()
        self._closing = False

    def close(self) -> None:
        """Answer the calls still running (long polls) with UNAVAILABLE: the server is stopping."""
        self._closing = True
        for task in list(self._calls):
            task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive), receive)
        await response(scope, receive, send)

    async def handle(self, request: Request, receive: Receive) -> Response:
        no_shorthand = NO_SHORTHAND_TYPE in request.headers.get("accept", "")
        shorthand = self.shorthand and not no_shorthand and NO_SHORTHAND_PARAM not in request.query_params
        media_type = NO_SHORTHAND_TYPE if no_shorthand else "application/json"
        try:
            route, values = self.router.match(request.method, raw_path(request.scope))
            # As on the reference, the content type (not the query parameter) governs the body.
            body_shorthand = self.shorthand and NO_SHORTHAND_TYPE not in request.headers.get(
                "content-type", ""
            )
            message = await self._request_message(route, values, request, body_shorthand)
            context = HttpContext(
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
                _peer(request.scope),
                parse_grpc_timeout(request.headers.get("grpc-timeout")),
            )
            if self._closing:
                raise RpcStatus(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
            response = await self._until_disconnect(
                self.dispatcher.call(route.method, message, context), receive
            )
        except NoRoute as error:
            code = grpc.StatusCode.UNIMPLEMENTED if error.method_not_allowed else grpc.StatusCode.NOT_FOUND
            return error_response(RpcStatus(code, str(error)), shorthand, media_type)
        except protojson.BadJson as error:
            return error_response(
                RpcStatus(grpc.StatusCode.INVALID_ARGUMENT, str(error)), shorthand, media_type
            )
        except RpcStatus as error:
            return error_response(error, shorthand, media_type)
        except Exception:  # a bug of ours: answer as gRPC would, and keep serving
            log.exception("internal error serving %s %s", request.method, request.url.path)
            status = RpcStatus(grpc.StatusCode.INTERNAL, "internal server error")
            return error_response(status, False, media_type)
        if response is None:  # the client left; nobody reads this
            return Response(status_code=499)
        return Response(await _encode(response, shorthand), media_type=media_type)

    async def _until_disconnect(self, call: Awaitable[Message], receive: Receive) -> Message | None:
        """The call's result, or None if the client disconnected first (the call is then cancelled)."""
        task = asyncio.ensure_future(call)
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                return None
            if task.cancelled():  # by close()
                raise RpcStatus(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
            return task.result()
        finally:
            for pending in (task, watcher):
                if not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pending

    async def _request_message(
        self, route: Route, values: dict[str, str], request: Request, shorthand: bool
    ) -> Message:
        message = self.dispatcher.request_class(route.method)()
        if route.body == "*":
            body = await _read_body(request)
            if body.strip():
                try:
                    data = json.loads(body, parse_constant=_reject_constant)
                except (ValueError, RecursionError) as error:
                    raise protojson.BadJson(str(error)) from None
                protojson.parse(data, message, shorthand)
        else:
            query = params.query_to_json(
                protojson.descriptor_of(message), request.query_params.multi_items(), set(route.bound_fields)
            )
            protojson.parse(query, message)
        for field_path, value in values.items():
            params.set_path_field(message, field_path, value)
        return message


async def _encode(message: Message, shorthand: bool) -> str:
    # Encoding is pure Python: a large answer (a long history) is encoded on a thread, so that
    # the event loop keeps serving meanwhile.
    if message.ByteSize() < LARGE_RESPONSE_BYTES:
        return protojson.to_json(message, shorthand)
    return await asyncio.to_thread(protojson.to_json, message, shorthand)


def raw_path(scope: Scope) -> str:
    """The path as sent, still percent-encoded, so that `%2F` does not split a segment."""
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return str(scope["path"])


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return f"ipv4:{client[0]}:{client[1]}" if client else ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RpcStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def error_response(status: RpcStatus, shorthand: bool, media_type: str = "application/json") -> Response:
    body = protojson.to_json(status.to_proto(), shorthand)
    return Response(body, status_code=status.http_status, media_type=media_type)
