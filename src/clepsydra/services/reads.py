"""Reading history: paging forward or backward, and long polls for new events."""

from __future__ import annotations

import asyncio
import base64
import json

from temporalio.api.enums.v1 import HistoryEventFilterType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryResponse,
    GetWorkflowExecutionHistoryReverseRequest,
    GetWorkflowExecutionHistoryReverseResponse,
)

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument
from clepsydra.history.core import HistoryCore

DEFAULT_PAGE_SIZE = 256
LONG_POLL_SECONDS = 20.0
CLOSE_EVENT = HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT


def _encode_token(run_id: str, event_id: int) -> bytes:
    return base64.b64encode(json.dumps({"run": run_id, "event": event_id}).encode())


def _decode_token(token: bytes) -> tuple[str, int]:
    try:
        fields = json.loads(base64.b64decode(token))
        return str(fields["run"]), int(fields["event"])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InvalidArgument("Invalid NextPageToken.") from None


class HistoryReader:
    def __init__(self, core: HistoryCore) -> None:
        self.core = core

    async def _key(
        self, namespace_id: str, workflow_id: str, run_id: str, token: bytes
    ) -> tuple[ExecutionKey, int]:
        if not workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        if token:
            run_id, next_event_id = _decode_token(token)
        else:
            next_event_id = 0
        return await self.core.resolve(namespace_id, workflow_id, run_id), next_event_id

    async def get(
        self, namespace_id: str, request: GetWorkflowExecutionHistoryRequest
    ) -> GetWorkflowExecutionHistoryResponse:
        execution = request.execution
        key, from_event_id = await self._key(
            namespace_id, execution.workflow_id, execution.run_id, request.next_page_token
        )
        state = await self.core.latest(key)
        if request.history_event_filter_type == CLOSE_EVENT:
            # Wait for the close itself, not for any change: waking the caller at every new
            # event would cost it (and the server) a round trip per event.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LONG_POLL_SECONDS
            while state.running and request.wait_new_event and (left := deadline - loop.time()) > 0:
                await self.core.wait(key, left)
                state = await self.core.latest(key)
            if not state.running:
                # Under the lock: a change in flight may have closed the cached state without
                # its close event being committed yet (or at all, if its commit fails).
                async with self.core.locked(key.namespace_id, key.workflow_id):
                    state = await self.core.latest(key)
                    close = [] if state.running else await self.core.events(key, state.next_event_id - 1)
            if state.running:
                token = _encode_token(key.run_id, state.next_event_id) if request.wait_new_event else b""
                return GetWorkflowExecutionHistoryResponse(next_page_token=token)
            return GetWorkflowExecutionHistoryResponse(history=History(events=close))

        from_event_id = from_event_id or 1
        if request.wait_new_event and state.running and from_event_id >= state.next_event_id:
            await self.core.wait(key, LONG_POLL_SECONDS)
            state = await self.core.latest(key)
        page_size = request.maximum_page_size if request.maximum_page_size > 0 else DEFAULT_PAGE_SIZE
        events = await self.core.events(key, from_event_id)
        page = events[:page_size]
        if len(events) > page_size:
            token = _encode_token(key.run_id, page[-1].event_id + 1)
        elif request.wait_new_event and state.running:
            token = _encode_token(key.run_id, (page[-1].event_id + 1) if page else from_event_id)
        else:
            token = b""
        return GetWorkflowExecutionHistoryResponse(history=History(events=page), next_page_token=token)

    async def get_reverse(
        self, namespace_id: str, request: GetWorkflowExecutionHistoryReverseRequest
    ) -> GetWorkflowExecutionHistoryReverseResponse:
        execution = request.execution
        key, before_event_id = await self._key(
            namespace_id, execution.workflow_id, execution.run_id, request.next_page_token
        )
        events: list[HistoryEvent] = await self.core.events(key, 1)
        if before_event_id:
            events = [e for e in events if e.event_id < before_event_id]
        events.reverse()
        page_size = request.maximum_page_size if request.maximum_page_size > 0 else DEFAULT_PAGE_SIZE
        page = events[:page_size]
        token = _encode_token(key.run_id, page[-1].event_id) if len(events) > page_size else b""
        return GetWorkflowExecutionHistoryReverseResponse(history=History(events=page), next_page_token=token)
