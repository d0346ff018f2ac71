"""Delivering completion callbacks (the NEXUS_CALLBACK transfer task of a closed run).

The run's outcome is read from its closing event and handed to the operation its
callback names. A callback to this same server (`temporal://system`) is delivered through
the update path on the caller's execution, with no network hop: the caller's change is
committed before the callback is recorded delivered, so a crash in between delivers it
again, which the caller ignores (its operation is closed by then). A callback to an http(s)
URL (a caller elsewhere, through the Nexus HTTP routes) is POSTed there, once.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio.api.common.v1 import Callback
from temporalio.api.enums.v1 import CallbackState, EventType, TimeoutType
from temporalio.api.failure.v1 import Failure, TerminatedFailureInfo, TimeoutFailureInfo
from temporalio.api.history.v1 import HistoryEvent

from clepsydra.engine import nexus_callbacks, nexus_operations
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_operations import Failed, Succeeded
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import TransferTask
from clepsydra.errors import NotFound, ServiceError
from clepsydra.history.core import HistoryCore
from clepsydra.services import nexus_external
from clepsydra.services.nexus_calls import (
    CALLBACK_TOKEN_HEADER,
    OPERATION_TOKEN_HEADER,
    SYSTEM_CALLBACK_URL,
    CallbackToken,
)

# How long a callback to another server may take to be answered.
CALL_TIMEOUT = 10.0


class NexusCallbacks:
    def __init__(self, core: HistoryCore) -> None:
        self.core = core

    async def deliver(self, source: ExecutionState, task: TransferTask) -> None:
        records = nexus_callbacks.records(source)
        due = [i for i, r in enumerate(records) if r.state == CallbackState.CALLBACK_STATE_SCHEDULED]
        if source.running or not due:
            await self.core.delete_transfer(source.key, task.key)
            return
        closing = (await self.core.events(source.key, source.next_event_id - 1))[-1]
        outcome = _outcome(closing)
        results: list[tuple[int, Failure | None]] = []
        for index in due:
            results.append((index, await self._deliver(source.start.completion_callbacks[index], outcome)))

        def record(m: Mutation) -> None:
            for index, failure in results:
                nexus_callbacks.record_delivery(m, index, failure, m.now)

        await self.core.update(source.key, record, done_transfer=task.key)

    async def _deliver(self, callback: Callback, outcome: Succeeded | Failed | None) -> Failure | None:
        """None once delivered; the failure if it cannot be, ever."""
        if outcome is None:
            return Failure(message="the run did not close with an outcome to deliver")
        header = {key.lower(): value for key, value in callback.nexus.header.items()}
        operation_token = header.get(OPERATION_TOKEN_HEADER, "")
        url = callback.nexus.url
        if url.startswith(("http://", "https://")):
            return await nexus_external.deliver(
                url, callback.nexus.header, outcome, operation_token, CALL_TIMEOUT
            )
        if url != SYSTEM_CALLBACK_URL:
            return Failure(message=f"unsupported callback URL: {url}")
        try:
            token = CallbackToken.decode(header.get(CALLBACK_TOKEN_HEADER, ""))
            delivered = await self.complete(token, outcome, operation_token)
        except ServiceError as error:
            return Failure(message=error.message)
        return None if delivered else Failure(message="operation not found")

    async def complete(self, token: CallbackToken, outcome: Succeeded | Failed, operation_token: str) -> bool:
        """Close the operation a callback token names; False if there is no such operation.
        A caller reset since holds the operation in its current run, if any run does."""

        def complete(m: Mutation) -> bool:
            return nexus_operations.complete(
                m, token.scheduled_event_id, token.request_id, outcome, operation_token
            )

        if await self._complete(token.key, complete):
            return True
        current = await self.core.current(token.namespace_id, token.workflow_id)
        if current is None or current.run_id == token.run_id:
            return False
        return await self._complete(
            ExecutionKey(token.namespace_id, token.workflow_id, current.run_id), complete
        )

    async def _complete(self, key: ExecutionKey, complete: Callable[[Mutation], bool]) -> bool:
        try:
            return await self.core.update(key, complete)
        except NotFound:
            return False


def _outcome(closing: HistoryEvent) -> Succeeded | Failed | None:
    """What the run's closing event says of the operation it ran."""
    match closing.event_type:
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = closing.workflow_execution_completed_event_attributes.result.payloads
            return Succeeded(payloads[0] if payloads else None)
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            return Failed(closing.workflow_execution_failed_event_attributes.failure)
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            return Failed(nexus_operations.canceled_failure(), canceled=True)
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            reason = closing.workflow_execution_terminated_event_attributes.reason
            return Failed(
                Failure(
                    message=reason or "operation terminated", terminated_failure_info=TerminatedFailureInfo()
                )
            )
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            timeout = TimeoutFailureInfo(timeout_type=TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE)
            return Failed(
                Failure(message="operation exceeded internal timeout", timeout_failure_info=timeout)
            )
    return None
