"""Standalone Nexus operations for their clients: start one, describe it, await its outcome,
cancel or terminate it (see engine/standalone_nexus.py for how one runs)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from temporalio.api.enums.v1 import (
    NexusOperationExecutionStatus,
    NexusOperationIdConflictPolicy,
    NexusOperationIdReusePolicy,
    NexusOperationWaitStage,
)
from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
from temporalio.api.errordetails.v1 import NexusOperationExecutionAlreadyStartedFailure
from temporalio.api.nexus.v1 import NexusOperationExecutionInfo
from temporalio.api.workflowservice.v1 import (
    DescribeNexusOperationExecutionRequest,
    DescribeNexusOperationExecutionResponse,
    PollNexusOperationExecutionResponse,
    StartNexusOperationExecutionRequest,
    StartNexusOperationExecutionResponse,
)

from clepsydra.clock import Clock
from clepsydra.engine import codec
from clepsydra.engine import standalone_nexus as standalone
from clepsydra.engine.nexus_state import OperationState
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.errors import AlreadyExists, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.services.nexus_describe import pending_operation
from clepsydra.services.nexus_endpoints import NexusEndpoints
from clepsydra.services.own_executions import OwnExecutions
from clepsydra.services.workflows import SearchAttributeCheck
from clepsydra.store.base import CurrentExecution

T = TypeVar("T")
Reuse = NexusOperationIdReusePolicy
Stage = NexusOperationWaitStage
_FAILED = {
    Status.WORKFLOW_EXECUTION_STATUS_FAILED,
    Status.WORKFLOW_EXECUTION_STATUS_CANCELED,
    Status.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
}
# A workflow status and the operation status of the same name.
OPERATION_STATUS: dict[int, NexusOperationExecutionStatus.ValueType] = {
    value: NexusOperationExecutionStatus.Value(
        name.replace("WORKFLOW_EXECUTION", "NEXUS_OPERATION_EXECUTION")
    )
    for name, value in Status.items()
    if name.replace("WORKFLOW_EXECUTION", "NEXUS_OPERATION_EXECUTION")
    in NexusOperationExecutionStatus.DESCRIPTOR.values_by_name
}


class StandaloneNexusOperations:
    def __init__(
        self,
        core: HistoryCore,
        clock: Clock,
        endpoints: NexusEndpoints,
        check_search_attributes: SearchAttributeCheck,
    ) -> None:
        self.core = core
        self.executions = OwnExecutions(
            core,
            standalone.PREFIX,
            standalone.standalone_of,
            standalone.not_found,
            "operation_id is required",
            "run_id is not a valid UUID",
        )
        self.clock = clock
        self.endpoints = endpoints
        self.check_search_attributes = check_search_attributes

    async def start(
        self, namespace_id: str, namespace: str, request: StartNexusOperationExecutionRequest
    ) -> StartNexusOperationExecutionResponse:
        if not request.operation_id:
            raise InvalidArgument("operation_id is required")
        if not request.endpoint:
            raise InvalidArgument("endpoint is required")
        endpoint_ids = await self.endpoints.ids([request.endpoint])
        if request.endpoint not in endpoint_ids:
            raise NotFound(f"could not find Nexus endpoint by name: {request.endpoint}")
        await self.check_search_attributes(namespace, namespace_id, request.search_attributes)
        if not request.request_id:
            request.request_id = str(uuid.uuid4())
        workflow_id = standalone.workflow_id_of(request.operation_id)
        async with self.core.locked(namespace_id, workflow_id):
            current = await self.core.current(namespace_id, workflow_id)
            if current is not None:
                existing = _existing(request, current)
                if existing is not None:
                    return existing
            run_id = str(uuid.uuid4())
            m = standalone.begin(
                namespace_id,
                namespace,
                request,
                endpoint_ids[request.endpoint],
                run_id,
                self.clock.now(),
                lambda: str(uuid.uuid4()),
            )
            await self.core.create(m, current.run_id if current else None)
        return StartNexusOperationExecutionResponse(run_id=run_id, started=True)

    async def resolve(self, namespace_id: str, operation_id: str, run_id: str) -> ExecutionKey:
        """The execution of the operation a request names: its run, or its newest one."""
        return await self.executions.resolve(namespace_id, operation_id, run_id)

    async def describe(
        self, namespace_id: str, request: DescribeNexusOperationExecutionRequest, wait: float
    ) -> DescribeNexusOperationExecutionResponse:
        """With the long-poll token of an earlier answer, wait (up to `wait` seconds) for a change."""
        key = await self.resolve(namespace_id, request.operation_id, request.run_id)
        if request.long_poll_token:
            seen = int.from_bytes(request.long_poll_token[-8:], "big")
            await self.executions.wait_until(
                key, lambda s: s.state_transition_count, lambda n: n != seen, wait
            )
        return await self.executions.read(key, lambda s: _description(s, request))

    async def poll(
        self, namespace_id: str, operation_id: str, run_id: str, stage: int, wait: float
    ) -> PollNexusOperationExecutionResponse:
        """The operation once it reached `stage` (started, or closed); an empty answer if it has
        not after `wait` seconds (the client asks again)."""
        key = await self.resolve(namespace_id, operation_id, run_id)
        return await self.executions.wait_until(
            key, lambda s: _poll_response(s, stage), lambda r: bool(r.wait_stage), wait
        )

    async def request_cancel(self, namespace_id: str, operation_id: str, run_id: str, reason: str) -> None:
        key = await self.resolve(namespace_id, operation_id, run_id)
        await self._change(key, lambda m: standalone.request_cancel(m, reason))

    async def terminate(
        self, namespace_id: str, operation_id: str, run_id: str, reason: str, identity: str, request_id: str
    ) -> None:
        key = await self.resolve(namespace_id, operation_id, run_id)
        await self._change(key, lambda m: standalone.terminate(m, reason, identity, request_id))

    async def _change(self, key: ExecutionKey, change: Callable[..., None]) -> None:
        try:
            await self.core.update(key, change)
        except NotFound:
            raise standalone.not_found(key.workflow_id.removeprefix(standalone.PREFIX)) from None


def _existing(
    request: StartNexusOperationExecutionRequest, current: CurrentExecution
) -> StartNexusOperationExecutionResponse | None:
    """Apply the id conflict and reuse policies; a response means: do not start."""
    if current.start_request_id == request.request_id:
        return StartNexusOperationExecutionResponse(run_id=current.run_id)
    if current.status == Status.WORKFLOW_EXECUTION_STATUS_RUNNING:
        use_existing = NexusOperationIdConflictPolicy.NEXUS_OPERATION_ID_CONFLICT_POLICY_USE_EXISTING
        if request.id_conflict_policy == use_existing:
            return StartNexusOperationExecutionResponse(run_id=current.run_id)
        raise _already_started(current)
    policy = request.id_reuse_policy
    if policy == Reuse.NEXUS_OPERATION_ID_REUSE_POLICY_REJECT_DUPLICATE or (
        policy == Reuse.NEXUS_OPERATION_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
        and current.status not in _FAILED
    ):
        raise _already_started(current)
    return None


def _already_started(current: CurrentExecution) -> AlreadyExists:
    return AlreadyExists(
        "nexus operation execution already started: "
        f"request_id={current.start_request_id}, run_id={current.run_id}",
        NexusOperationExecutionAlreadyStartedFailure(
            start_request_id=current.start_request_id, run_id=current.run_id
        ),
    )


def _description(
    s: ExecutionState, request: DescribeNexusOperationExecutionRequest
) -> DescribeNexusOperationExecutionResponse:
    operation = standalone.standalone_of(s)
    info = standalone.current_operation(s)
    pending = pending_operation(info)
    described = NexusOperationExecutionInfo(
        operation_id=operation.operation_id,
        run_id=s.run_id,
        endpoint=info.endpoint,
        service=info.service,
        operation=info.operation,
        status=OPERATION_STATUS[s.status],
        attempt=info.attempt,
        request_id=info.request_id,
        operation_token=info.operation_token,
        state_transition_count=s.state_transition_count,
        search_attributes=s.search_attributes,
        nexus_header=info.header,
        links=operation.links,
        identity=operation.identity,
    )
    del described.search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    if s.running:
        described.state = pending.state
    for name in (
        "schedule_to_close_timeout",
        "last_attempt_complete_time",
        "last_attempt_failure",
        "next_attempt_schedule_time",
    ):
        if pending.HasField(name):
            getattr(described, name).CopyFrom(getattr(pending, name))
    if pending.HasField("cancellation_info"):
        cancel = described.cancellation_info
        # The same fields as a workflow's pending operation shows, in a message of its own.
        for field, value in pending.cancellation_info.ListFields():
            if field.message_type is not None:
                getattr(cancel, field.name).CopyFrom(value)
            else:
                setattr(cancel, field.name, value)
        cancel.reason = operation.canceled_reason
    if s.running and info.state == OperationState.PENDING_NEXUS_OPERATION_STATE_STARTED:
        described.ClearField("last_attempt_failure")
    described.schedule_time.CopyFrom(codec.timestamp(s.start_time))
    if info.schedule_to_close_timeout:
        described.expiration_time.CopyFrom(codec.timestamp(s.start_time + info.schedule_to_close_timeout))
    if s.close_time is not None:
        described.close_time.CopyFrom(codec.timestamp(s.close_time))
        described.execution_duration.FromTimedelta(s.close_time - s.start_time)
    response = DescribeNexusOperationExecutionResponse(
        run_id=s.run_id, info=described, long_poll_token=s.state_transition_count.to_bytes(8, "big")
    )
    if request.include_input and info.input is not None:
        response.input.CopyFrom(info.input)
    if request.include_outcome:
        if operation.result is not None:
            response.result.CopyFrom(operation.result)
        elif operation.failure is not None:
            response.failure.CopyFrom(operation.failure)
    return response


def _poll_response(s: ExecutionState, stage: int) -> PollNexusOperationExecutionResponse:
    """The stage reached, if it is the one waited for (or beyond); none yet otherwise."""
    operation = standalone.standalone_of(s)
    info = standalone.current_operation(s)
    response = PollNexusOperationExecutionResponse(run_id=s.run_id, operation_token=info.operation_token)
    if not s.running:
        response.wait_stage = Stage.NEXUS_OPERATION_WAIT_STAGE_CLOSED
        if operation.result is not None:
            response.result.CopyFrom(operation.result)
        elif operation.failure is not None:
            response.failure.CopyFrom(operation.failure)
    elif stage == Stage.NEXUS_OPERATION_WAIT_STAGE_STARTED and info.started:
        response.wait_stage = Stage.NEXUS_OPERATION_WAIT_STAGE_STARTED
    return response
