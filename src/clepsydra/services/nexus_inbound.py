"""Nexus requests that arrive over HTTP, at an endpoint's URL
(`/nexus/endpoints/{id}/services/{service}/{operation}`): sent to the handler workers of the
endpoint's target through the same Nexus tasks as a workflow's requests; and completions of
this server's operations that external handlers send to its callback URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.api.nexus.v1 import CancelOperationRequest, Link, Request, StartOperationRequest

from clepsydra.engine.nexus_operations import Failed, Succeeded
from clepsydra.errors import NotFound
from clepsydra.services.nexus_callbacks import NexusCallbacks
from clepsydra.services.nexus_calls import CallbackToken, NexusCalls
from clepsydra.services.nexus_endpoints import NexusEndpoints, WorkerTarget
from clepsydra.services.nexus_tasks import Answer, NexusTasks

ENDPOINT_NOT_FOUND = "nexus endpoint not found"


class NexusInbound:
    def __init__(
        self, endpoints: NexusEndpoints, tasks: NexusTasks, calls: NexusCalls, callbacks: NexusCallbacks
    ) -> None:
        self.endpoints = endpoints
        self.tasks = tasks
        self.calls = calls
        self.callbacks = callbacks

    def serve_callbacks_at(self, base_url: str) -> None:
        """This server's HTTP API serves the callback route at `base_url`: operations sent to
        external endpoints give their handlers a callback URL there."""
        self.calls.callback_base = base_url

    async def complete(self, token: str, outcome: Succeeded | Failed, operation_token: str) -> bool:
        """An external handler's completion of one of this server's operations."""
        return await self.callbacks.complete(CallbackToken.decode(token), outcome, operation_token)

    async def start(
        self,
        endpoint_id: str,
        start: StartOperationRequest,
        header: Mapping[str, str],
        timeout: float,
    ) -> Answer | None:
        """The handler's answer to a start request; None if none came within `timeout`."""
        target = await self._target(endpoint_id)
        request = Request(header=header, start_operation=start, endpoint=target.endpoint_name)
        request.capabilities.temporal_failure_responses = True
        return await self.tasks.call(target.namespace_id, target.task_queue, request, timeout)

    async def cancel(
        self,
        endpoint_id: str,
        service: str,
        operation: str,
        token: str,
        header: Mapping[str, str],
        timeout: float,
    ) -> Answer | None:
        target = await self._target(endpoint_id)
        cancel = CancelOperationRequest(
            service=service, operation=operation, operation_id=token, operation_token=token
        )
        request = Request(header=header, cancel_operation=cancel, endpoint=target.endpoint_name)
        request.capabilities.temporal_failure_responses = True
        return await self.tasks.call(target.namespace_id, target.task_queue, request, timeout)

    async def _target(self, endpoint_id: str) -> _Target:
        try:
            target = await self.endpoints.resolve_id(endpoint_id)
        except ValueError:
            target = None
        if target is None:
            raise NotFound(ENDPOINT_NOT_FOUND)
        endpoint = await self.endpoints.get(endpoint_id)
        return _Target(target, endpoint.spec.name)


class _Target:
    def __init__(self, target: WorkerTarget, endpoint_name: str) -> None:
        self.namespace_id = target.namespace_id
        self.task_queue = target.task_queue
        self.endpoint_name = endpoint_name


def start_request(
    service: str,
    operation: str,
    payload: Payload | None,
    request_id: str,
    callback: str,
    callback_header: Mapping[str, str],
    links: Sequence[Link],
) -> StartOperationRequest:
    start = StartOperationRequest(
        service=service,
        operation=operation,
        request_id=request_id,
        callback=callback,
        callback_header=callback_header,
        links=links,
    )
    if payload is not None:
        start.payload.CopyFrom(payload)
    return start
