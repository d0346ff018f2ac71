"""The Nexus HTTP protocol on the calling side: start and cancel requests to an endpoint
whose target is an external URL, and completion callbacks to a caller's URL. The shapes are
those this server's own routes serve (http/nexus_routes.py), so the two understand each
other, as they understand the reference's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from google.protobuf.json_format import MessageToDict, ParseDict
from temporalio.api.common.v1 import Link, Payload
from temporalio.api.failure.v1 import Failure, NexusHandlerFailureInfo
from temporalio.api.nexus.v1 import Link as NexusLink

from clepsydra.engine.nexus_operations import Failed, Outcome, Started, Succeeded
from clepsydra.services import nexus_http, nexus_links

TEMPORAL_FAILURE = "temporal.api.failure.v1.Failure"
# HTTP statuses and the handler error types the Nexus protocol gives them.
ERROR_TYPES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "UNAUTHORIZED",
    404: "NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    520: "UPSTREAM_TIMEOUT",
}
RETRYABLE_TYPES = frozenset(
    {"REQUEST_TIMEOUT", "RESOURCE_EXHAUSTED", "INTERNAL", "UNAVAILABLE", "UPSTREAM_TIMEOUT", "UNKNOWN"}
)


async def start(
    url: str,
    service: str,
    operation: str,
    payload: Payload | None,
    header: Mapping[str, str],
    callback_url: str,
    callback_header: Mapping[str, str],
    timeout: float,
) -> Outcome:
    headers = dict(header)
    if payload is not None:
        headers["content-type"] = content_type(payload)
    if callback_url:
        headers["nexus-callback"] = callback_url
        headers.update({f"nexus-callback-{k}": v for k, v in callback_header.items()})
    try:
        answer = await nexus_http.post(
            f"{url.rstrip('/')}/{quote(service, safe='')}/{quote(operation, safe='')}",
            headers,
            payload.data if payload is not None else b"",
            timeout,
        )
    except nexus_http.HttpFailure as error:
        return Failed(Failure(message=str(error)), retryable=True)
    links = parse_links(answer.links)
    if answer.status == 200:
        return Succeeded(payload_of(answer.body, answer.headers.get("content-type", "")), links)
    if answer.status == 201:
        body = parse_json(answer.body)
        return Started(str(body.get("token") or body.get("id") or ""), links)
    if answer.status == 424:
        state = answer.headers.get("nexus-operation-state", "failed")
        return Failed(failure_of(parse_json(answer.body)), canceled=state == "canceled")
    return handler_failed(answer)


async def cancel(
    url: str, service: str, operation: str, token: str, header: Mapping[str, str], timeout: float
) -> Failed | None:
    headers = {**header, "nexus-operation-token": token}
    try:
        answer = await nexus_http.post(
            f"{url.rstrip('/')}/{quote(service, safe='')}/{quote(operation, safe='')}/cancel",
            headers,
            b"",
            timeout,
        )
    except nexus_http.HttpFailure as error:
        return Failed(Failure(message=str(error)), retryable=True)
    return None if answer.status < 300 else handler_failed(answer)


async def deliver(
    url: str,
    callback_header: Mapping[str, str],
    outcome: Succeeded | Failed,
    operation_token: str,
    timeout: float,
    retry_delays: Sequence[float] = (1.0, 2.0, 4.0, 8.0),
) -> Failure | None:
    """Tell a caller's callback URL how its operation ended; None once it took the news. An
    answer that may change (no answer, a 5xx, a 429) is asked again after each delay."""
    headers = dict(callback_header)
    if operation_token:
        headers["nexus-operation-token"] = operation_token
    if isinstance(outcome, Succeeded):
        headers["nexus-operation-state"] = "succeeded"
        body = b""
        if outcome.result is not None:
            headers["content-type"] = content_type(outcome.result)
            body = outcome.result.data
    else:
        headers["nexus-operation-state"] = "canceled" if outcome.canceled else "failed"
        headers["content-type"] = "application/json"
        body = json.dumps(failure_body(outcome.failure)).encode()
    for delay in (*retry_delays, None):
        try:
            answer = await nexus_http.post(url, headers, body, timeout)
        except nexus_http.HttpFailure as error:
            failure, again = Failure(message=str(error)), True
        else:
            if answer.status < 300:
                return None
            text = answer.body[:200].decode(errors="replace")
            failure = Failure(message=f"callback answered {answer.status}: {text}")
            again = answer.status >= 500 or answer.status == 429
        if not again or delay is None:
            return failure
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def content_type(payload: Payload) -> str:
    encoding = payload.metadata.get("encoding", b"")
    return "application/json" if encoding == b"json/plain" else "application/octet-stream"


def payload_of(body: bytes, content_type_header: str) -> Payload:
    json_body = content_type_header.split(";")[0].strip() == "application/json"
    return Payload(metadata={"encoding": b"json/plain" if json_body else b"binary/plain"}, data=body)


def failure_body(failure: Failure) -> dict[str, Any]:
    """A Temporal failure in the Nexus failure shape: its message, and the rest as details."""
    details = Failure()
    details.CopyFrom(failure)
    details.message = ""
    body: dict[str, Any] = {"message": failure.message}
    if failure.stack_trace:
        body["stackTrace"] = failure.stack_trace
    body["metadata"] = {"type": TEMPORAL_FAILURE}
    body["details"] = MessageToDict(details)
    return body


def failure_of(body: Mapping[str, Any]) -> Failure:
    """A Nexus failure as a Temporal one (a Temporal failure sent in the Nexus shape, whole)."""
    failure = Failure()
    details = body.get("details")
    if body.get("metadata", {}).get("type") == TEMPORAL_FAILURE and isinstance(details, dict):
        try:
            ParseDict(details, failure, ignore_unknown_fields=True)
        except Exception:
            failure = Failure()
    failure.message = str(body.get("message", ""))
    return failure


def handler_failed(answer: nexus_http.HttpAnswer) -> Failed:
    error_type = ERROR_TYPES.get(answer.status, "INTERNAL" if answer.status >= 500 else "BAD_REQUEST")
    failure = failure_of(parse_json(answer.body))
    if not failure.HasField("nexus_handler_failure_info"):
        failure = Failure(
            message=failure.message or f"HTTP {answer.status}",
            nexus_handler_failure_info=NexusHandlerFailureInfo(type=error_type),
        )
    return Failed(failure, retryable=error_type in RETRYABLE_TYPES)


def parse_links(values: Sequence[str]) -> list[Link]:
    links = []
    for value in values:
        url, _, rest = value.partition(">")
        kind = rest.split('type="', 1)[1].split('"', 1)[0] if 'type="' in rest else ""
        converted = nexus_links.from_nexus(NexusLink(url=url.lstrip("<").strip(), type=kind))
        if converted is not None:
            links.append(converted)
    return links


def parse_json(body: bytes) -> dict[str, Any]:
    """A JSON object from another server; what is not one becomes a message."""
    try:
        value = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        return {"message": body[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {}
