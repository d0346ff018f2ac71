"""The caller's Nexus requests: the NEXUS_START and NEXUS_CANCEL transfer tasks.

Each re-reads the operation (a request is sent only if the operation still waits for
it), sends the request to the handler workers of the endpoint's target through
`NexusTasks` and waits for the answer up to the request's deadline, then records what
came back through the update path, deleting the task in that write. A crash in between
leaves the task, which sends the request again: the request id is the operation's, so a
handler that already started it answers with the same operation.

An operation's completion callback (for async operations) is a token in the start
request's callback header; delivered to this same server, it needs no network hop (see
services/nexus_callbacks.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote

from temporalio.api.common.v1 import Link
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure, NexusHandlerFailureInfo
from temporalio.api.nexus.v1 import CancelOperationRequest, Request, StartOperationRequest
from temporalio.api.nexus.v1 import Link as NexusLink

from clepsydra.clock import Clock
from clepsydra.engine import nexus_cancels, nexus_operations
from clepsydra.engine.nexus_operations import Failed, Outcome, Started, Succeeded
from clepsydra.engine.nexus_state import NexusOperationInfo
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import TransferTask
from clepsydra.errors import InvalidArgument
from clepsydra.history.core import HistoryCore
from clepsydra.services import nexus_external, nexus_links
from clepsydra.services.nexus_endpoints import NexusEndpoints
from clepsydra.services.nexus_tasks import Answer, Answered, HandlerFailed, NexusTasks, go_duration

SYSTEM_CALLBACK_URL = "temporal://system"
CALLBACK_TOKEN_HEADER = "temporal-callback-token"
OPERATION_TOKEN_HEADER = "nexus-operation-token"
USER_AGENT = "temporalio/server"


@dataclass(frozen=True)
class CallbackToken:
    """Which operation a completion callback completes."""

    namespace_id: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    request_id: str

    @property
    def key(self) -> ExecutionKey:
        return ExecutionKey(self.namespace_id, self.workflow_id, self.run_id)

    def encode(self) -> str:
        data = json.dumps(
            [self.namespace_id, self.workflow_id, self.run_id, self.scheduled_event_id, self.request_id],
            separators=(",", ":"),
        )
        return json.dumps({"v": 1, "d": base64.b64encode(data.encode()).decode()}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> CallbackToken:
        try:
            outer = json.loads(text)
            namespace_id, workflow_id, run_id, event_id, request_id = json.loads(base64.b64decode(outer["d"]))
            return cls(str(namespace_id), str(workflow_id), str(run_id), int(event_id), str(request_id))
        except (ValueError, KeyError, TypeError, IndexError, RecursionError):
            raise InvalidArgument("invalid callback token") from None


class NexusCalls:
    def __init__(self, core: HistoryCore, tasks: NexusTasks, endpoints: NexusEndpoints, clock: Clock) -> None:
        self.core = core
        self.tasks = tasks
        self.endpoints = endpoints
        self.clock = clock
        # This server's HTTP API, for external handlers' callbacks (set once it serves one).
        self.callback_base = ""

    async def start(self, source: ExecutionState, task: TransferTask) -> None:
        info = nexus_operations.startable(source, task.event_id)
        if info is None:
            await self.core.delete_transfer(source.key, task.key)
            return
        attempt = info.attempt
        outcome = await self._start(source, info)
        await self.core.update(
            source.key,
            lambda m: nexus_operations.record_start(m, info.scheduled_event_id, attempt, outcome),
            done_transfer=task.key,
        )

    async def _start(self, source: ExecutionState, info: NexusOperationInfo) -> Outcome | None:
        timeout = nexus_operations.request_timeout(info, self.clock.now())
        if timeout is None:
            return None  # too little time left: the operation times out
        token = CallbackToken(
            source.namespace_id, source.workflow_id, source.run_id, info.scheduled_event_id, info.request_id
        )
        link = nexus_links.to_nexus(_scheduled_link(source, info))
        assert link is not None
        target = await self.endpoints.resolve_id(info.endpoint_id)
        if target is None:
            url = await self.endpoints.external_url(info.endpoint_id)
            if url is None:
                return Failed(handler_failure("NOT_FOUND", "endpoint not registered"))
            header = {**self._header(info, link), "request-timeout": go_duration(timeout.total_seconds())}
            return await nexus_external.start(
                url,
                info.service,
                info.operation,
                info.input,
                header,
                self._callback_url(source.namespace),
                {CALLBACK_TOKEN_HEADER: token.encode()},
                timeout.total_seconds(),
            )
        request = Request(
            header=self._header(info, link),
            start_operation=StartOperationRequest(
                service=info.service,
                operation=info.operation,
                request_id=info.request_id,
                callback=SYSTEM_CALLBACK_URL,
                payload=info.input,
                callback_header={CALLBACK_TOKEN_HEADER: token.encode()},
                links=[link],
            ),
            endpoint=info.endpoint,
            capabilities=Request.Capabilities(temporal_failure_responses=True),
        )
        answer = await self.tasks.call(
            target.namespace_id, target.task_queue, request, timeout.total_seconds()
        )
        return _start_outcome(answer)

    async def cancel(self, source: ExecutionState, task: TransferTask) -> None:
        info = nexus_cancels.cancelable(source, task.event_id)
        if info is None or info.cancel is None:
            await self.core.delete_transfer(source.key, task.key)
            return
        attempt = info.cancel.attempt
        failed = await self._cancel(source, info)
        await self.core.update(
            source.key,
            lambda m: nexus_cancels.record_cancel(m, info.scheduled_event_id, attempt, failed),
            done_transfer=task.key,
        )

    async def _cancel(self, source: ExecutionState, info: NexusOperationInfo) -> Failed | None:
        link = nexus_links.to_nexus(_scheduled_link(source, info))
        assert link is not None
        target = await self.endpoints.resolve_id(info.endpoint_id)
        if target is None:
            url = await self.endpoints.external_url(info.endpoint_id)
            if url is None:
                return Failed(handler_failure("NOT_FOUND", "endpoint not registered"))
            timeout = nexus_operations.REQUEST_TIMEOUT.total_seconds()
            header = self._header(info, link)
            return await nexus_external.cancel(
                url, info.service, info.operation, info.operation_token, header, timeout
            )
        request = Request(
            header=self._header(info, link),
            cancel_operation=CancelOperationRequest(
                service=info.service,
                operation=info.operation,
                operation_id=info.operation_token,
                operation_token=info.operation_token,
            ),
            endpoint=info.endpoint,
            capabilities=Request.Capabilities(temporal_failure_responses=True),
        )
        timeout = nexus_operations.REQUEST_TIMEOUT.total_seconds()
        answer = await self.tasks.call(target.namespace_id, target.task_queue, request, timeout)
        match answer:
            case None:
                return Failed(Failure(message="request timed out"), retryable=True)
            case HandlerFailed():
                return Failed(answer.failure, retryable=answer.retryable)
        return None

    def _callback_url(self, namespace: str) -> str:
        """Where an external handler sends the operation's completion: this server's HTTP API
        (empty if it serves none: the operation can then only complete in its start answer)."""
        if not self.callback_base:
            return ""
        return f"{self.callback_base}/namespaces/{quote(namespace, safe='')}/nexus/callback"

    def _header(self, info: NexusOperationInfo, link: NexusLink) -> dict[str, str]:
        header = dict(info.header)
        header["user-agent"] = USER_AGENT
        header["nexus-request-id"] = info.request_id
        header["nexus-link"] = nexus_links.header_value(link)
        # How long the operation may run, for its handler: its start-to-close timeout, or what is
        # left of its schedule-to-close one, whichever is shorter (unless the caller said).
        limits = [info.start_to_close_timeout] if info.start_to_close_timeout else []
        if info.schedule_to_close_timeout:
            limits.append(info.scheduled_time + info.schedule_to_close_timeout - self.clock.now())
        if limits and "operation-timeout" not in header:
            header["operation-timeout"] = go_duration(max(min(limits).total_seconds(), 0.0))
        return header


def _scheduled_link(source: ExecutionState, info: NexusOperationInfo) -> Link:
    link = Link()
    event = link.workflow_event
    event.namespace, event.workflow_id, event.run_id = source.namespace, source.workflow_id, source.run_id
    event.event_ref.event_id = info.scheduled_event_id
    event.event_ref.event_type = EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED
    return link


def _start_outcome(answer: Answer | None) -> Outcome:
    if answer is None:
        return Failed(Failure(message="request timed out"), retryable=True)
    if isinstance(answer, HandlerFailed):
        return Failed(answer.failure, retryable=answer.retryable)
    response = answer.response.start_operation
    links = [link for link in map(nexus_links.from_nexus, _links(answer)) if link is not None]
    match response.WhichOneof("variant"):
        case "sync_success":
            payload = response.sync_success.payload if response.sync_success.HasField("payload") else None
            return Succeeded(payload, links)
        case "async_success":
            token = response.async_success.operation_token or response.async_success.operation_id
            return Started(token, links)
        case "operation_error":
            error = response.operation_error
            failure = Failure(message=error.failure.message, stack_trace=error.failure.stack_trace)
            return Failed(failure, canceled=error.operation_state == "canceled")
        case "failure":
            failure = response.failure
            return Failed(failure, canceled=failure.HasField("canceled_failure_info"))
    return Failed(Failure(message="empty start operation response"))


def _links(answer: Answered) -> list[NexusLink]:
    response = answer.response.start_operation
    if response.HasField("sync_success"):
        return list(response.sync_success.links)
    if response.HasField("async_success"):
        return list(response.async_success.links)
    return []


def handler_failure(error_type: str, message: str) -> Failure:
    return Failure(message=message, nexus_handler_failure_info=NexusHandlerFailureInfo(type=error_type))
