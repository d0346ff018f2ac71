"""The Nexus HTTP protocol at an endpoint's URL, as the reference serves it on its HTTP port:

    POST /nexus/endpoints/{id}/services/{service}/{operation}          start an operation
    POST /nexus/endpoints/{id}/services/{service}/{operation}/cancel   cancel one (by its token)
    POST /namespaces/{namespace}/nexus/callback                          an external handler's
                                                                         completion of ours

A start answers 200 with the result (a sync operation), 201 with the operation's token (an
async one), 424 if the operation failed, or the status of the handler's error; the request
goes to the endpoint's handler workers as a workflow's does (services/nexus_inbound.py).
Everything else passes through to the app this wraps.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload
from temporalio.api.nexus.v1 import Link

from clepsydra.engine.nexus_operations import Failed, Succeeded
from clepsydra.errors import InvalidArgument, NotFound
from clepsydra.services import nexus_external
from clepsydra.services.nexus_inbound import ENDPOINT_NOT_FOUND, NexusInbound, start_request
from clepsydra.services.nexus_tasks import Answered, HandlerFailed

_PATH = re.compile(r"^/nexus/endpoints/([^/]+)/services/([^/]+)/([^/]+?)(/cancel)?$")
_CALLBACK = re.compile(r"^/namespaces/([^/]+)/nexus/callback$")
_LINK = re.compile(r'<([^>]*)>\s*;\s*type="([^"]*)"')
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 60.0  # a request waits for its handler no longer than a worker's long poll
# Headers that describe the HTTP request itself, not the Nexus one.
_NOT_PASSED = {"content-type", "content-length", "host", "connection", "accept-encoding", "transfer-encoding"}
# Handler error types and the HTTP status the Nexus protocol gives each.
STATUS = {
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "UNAUTHORIZED": 403,
    "NOT_FOUND": 404,
    "REQUEST_TIMEOUT": 408,
    "CONFLICT": 409,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "NOT_IMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "UPSTREAM_TIMEOUT": 520,
}


class NexusRoutes:
    def __init__(self, app: ASGIApp, inbound: NexusInbound) -> None:
        self.app = app
        self.inbound = inbound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" and scope["method"] == "POST" else ""
        if _CALLBACK.match(path):
            response = await self._callback(Request(scope, receive))
            await response(scope, receive, send)
            return
        match = _PATH.match(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        endpoint_id, service, operation, cancel = match.groups()
        try:
            if cancel:
                response = await self._cancel(request, endpoint_id, service, operation)
            else:
                response = await self._start(request, endpoint_id, service, operation)
        except NotFound:
            response = _handler_error(404, ENDPOINT_NOT_FOUND, "NOT_FOUND")
        await response(scope, receive, send)

    async def _start(self, request: Request, endpoint_id: str, service: str, operation: str) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.body()
        callback_header = {
            k.removeprefix("nexus-callback-"): v
            for k, v in headers.items()
            if k.startswith("nexus-callback-")
        }
        links = [Link(url=url, type=kind) for url, kind in _LINK.findall(headers.get("nexus-link", ""))]
        start = start_request(
            service,
            operation,
            _payload(body, headers.get("content-type", "")) if body else None,
            headers.get("nexus-request-id") or str(uuid.uuid4()),
            headers.get("nexus-callback", ""),
            callback_header,
            links,
        )
        answer = await self.inbound.start(endpoint_id, start, _passed(headers), _timeout(headers))
        if answer is None:
            return _handler_error(520, "upstream timeout", "UPSTREAM_TIMEOUT")
        if isinstance(answer, HandlerFailed):
            return _failed(answer)
        assert isinstance(answer, Answered)
        started = answer.response.start_operation
        variant = started.WhichOneof("variant")
        if variant == "sync_success":
            payload = started.sync_success.payload
            response = Response(payload.data, 200, media_type=_media_type(payload))
            _add_links(response, started.sync_success.links)
            return response
        if variant == "async_success":
            token = started.async_success.operation_token or started.async_success.operation_id
            response = JSONResponse({"token": token, "state": "running"}, 201)
            _add_links(response, started.async_success.links)
            return response
        if variant == "operation_error":
            error = started.operation_error
            state_header = {"nexus-operation-state": error.operation_state}
            return JSONResponse({"message": error.failure.message}, 424, headers=state_header)
        failure = started.failure
        state = "canceled" if failure.HasField("canceled_failure_info") else "failed"
        return JSONResponse(
            nexus_external.failure_body(failure),
            424,
            headers=_worker_failure({"nexus-operation-state": state}),
        )

    async def _cancel(self, request: Request, endpoint_id: str, service: str, operation: str) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        token = headers.get("nexus-operation-token", "")
        answer = await self.inbound.cancel(
            endpoint_id, service, operation, token, _passed(headers), _timeout(headers)
        )
        if answer is None:
            return _handler_error(520, "upstream timeout", "UPSTREAM_TIMEOUT")
        if isinstance(answer, HandlerFailed):
            return _failed(answer)
        return Response(status_code=202)

    async def _callback(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.body()
        state = headers.get("nexus-operation-state", "")
        outcome: Succeeded | Failed
        if state == "succeeded":
            outcome = Succeeded(
                nexus_external.payload_of(body, headers.get("content-type", "")) if body else None
            )
        elif state in ("failed", "canceled"):
            failure = nexus_external.failure_of(nexus_external.parse_json(body))
            outcome = Failed(failure, canceled=state == "canceled")
        else:
            return _handler_error(400, f"invalid operation state: {state!r}", "BAD_REQUEST")
        token = headers.get("temporal-callback-token", "")
        operation_token = headers.get("nexus-operation-token", "") or headers.get("nexus-operation-id", "")
        try:
            delivered = await self.inbound.complete(token, outcome, operation_token)
        except InvalidArgument as error:
            return _handler_error(400, error.message, "BAD_REQUEST")
        if not delivered:
            return _handler_error(404, "operation not found", "NOT_FOUND")
        return Response(status_code=200)


def _payload(body: bytes, content_type: str) -> Payload:
    encoding = b"json/plain" if content_type.split(";")[0].strip() == "application/json" else b"binary/plain"
    return Payload(metadata={"encoding": encoding}, data=body)


def _media_type(payload: Payload) -> str:
    encoding = payload.metadata.get("encoding", b"")
    return "application/json" if encoding == b"json/plain" else "application/octet-stream"


def _passed(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in _NOT_PASSED and not k.startswith("nexus-callback")}


def _timeout(headers: dict[str, str]) -> float:
    text = headers.get("request-timeout", "")
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m)", text)
    if match is None:
        return DEFAULT_TIMEOUT
    value = float(match.group(1))
    seconds = value / 1000 if match.group(2) == "ms" else value * 60 if match.group(2) == "m" else value
    return min(seconds, MAX_TIMEOUT)


def _add_links(response: Response, links: Any) -> None:
    for link in links:
        response.headers.append("nexus-link", f'<{link.url}>; type="{link.type}"')


def _failed(answer: HandlerFailed) -> Response:
    info = answer.failure.nexus_handler_failure_info
    status = STATUS.get(info.type, 500)
    return JSONResponse(nexus_external.failure_body(answer.failure), status, headers=_worker_failure({}))


def _worker_failure(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "temporal-nexus-failure-source": "worker"}


def _handler_error(status: int, message: str, error_type: str) -> Response:
    body = {
        "message": message,
        "metadata": {"type": "nexus.HandlerError"},
        "details": {"type": error_type, "retryableOverride": False},
    }
    return Response(json.dumps(body, separators=(",", ":")), status, media_type="application/json")
