"""Standalone activities for their clients: start one, describe it, await its outcome,
cancel or terminate it (see engine/standalone_activities.py for how one runs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from temporalio.api.activity.v1 import ActivityExecutionInfo
from temporalio.api.enums.v1 import (
    ActivityExecutionStatus,
    ActivityIdConflictPolicy,
    ActivityIdReusePolicy,
)
from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
from temporalio.api.errordetails.v1 import ActivityExecutionAlreadyStartedFailure
from temporalio.api.workflowservice.v1 import (
    DescribeActivityExecutionRequest,
    DescribeActivityExecutionResponse,
    PollActivityExecutionResponse,
    StartActivityExecutionRequest,
    StartActivityExecutionResponse,
)

from clepsydra.clock import Clock
from clepsydra.engine import activity_operations, codec
from clepsydra.engine import standalone_activities as standalone
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.errors import AlreadyExists, InvalidArgument
from clepsydra.history.core import HistoryCore
from clepsydra.services.describe import pending_activity
from clepsydra.services.own_executions import OwnExecutions
from clepsydra.services.workflows import SearchAttributeCheck
from clepsydra.store.base import CurrentExecution

T = TypeVar("T")
Reuse = ActivityIdReusePolicy
_FAILED = {
    Status.WORKFLOW_EXECUTION_STATUS_FAILED,
    Status.WORKFLOW_EXECUTION_STATUS_CANCELED,
    Status.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
}
# A workflow status and the activity status of the same name.
ACTIVITY_STATUS: dict[int, ActivityExecutionStatus.ValueType] = {
    value: ActivityExecutionStatus.Value(name.replace("WORKFLOW_EXECUTION", "ACTIVITY_EXECUTION"))
    for name, value in Status.items()
    if name.replace("WORKFLOW_EXECUTION", "ACTIVITY_EXECUTION")
    in ActivityExecutionStatus.DESCRIPTOR.values_by_name
}


class StandaloneActivities:
    def __init__(
        self, core: HistoryCore, clock: Clock, check_search_attributes: SearchAttributeCheck
    ) -> None:
        self.core = core
        self.executions = OwnExecutions(
            core,
            standalone.PREFIX,
            standalone.standalone_of,
            standalone.not_found,
            "activity ID is required",
            "invalid run id: must be a valid UUID",
        )
        self.clock = clock
        self.check_search_attributes = check_search_attributes

    async def start(
        self, namespace_id: str, namespace: str, request: StartActivityExecutionRequest
    ) -> StartActivityExecutionResponse:
        if not request.activity_id:
            raise InvalidArgument("activityId is not set")
        await self.check_search_attributes(namespace, namespace_id, request.search_attributes)
        if not request.request_id:
            request.request_id = str(uuid.uuid4())
        workflow_id = standalone.workflow_id_of(request.activity_id)
        async with self.core.locked(namespace_id, workflow_id):
            current = await self.core.current(namespace_id, workflow_id)
            if current is not None:
                existing = _existing(request, current)
                if existing is not None:
                    return existing
            run_id = str(uuid.uuid4())
            m = standalone.begin(namespace_id, namespace, request, run_id, self.clock.now())
            await self.core.create(m, current.run_id if current else None)
        return StartActivityExecutionResponse(run_id=run_id, started=True)

    async def resolve(self, namespace_id: str, activity_id: str, run_id: str) -> ExecutionKey:
        """The execution of the activity a request names: its run, or its newest one."""
        return await self.executions.resolve(namespace_id, activity_id, run_id)

    async def describe(
        self, namespace_id: str, request: DescribeActivityExecutionRequest, wait: float
    ) -> DescribeActivityExecutionResponse:
        """With the long-poll token of an earlier answer, wait (up to `wait` seconds) for a change."""
        key = await self.resolve(namespace_id, request.activity_id, request.run_id)
        if request.long_poll_token:
            if not request.run_id:
                raise InvalidArgument("run id is required when long poll token is provided")
            seen = _transitions_of(request.long_poll_token)
            await self.executions.wait_until(
                key, lambda s: s.state_transition_count, lambda n: n != seen, wait
            )
        return await self.executions.read(key, lambda s: _description(s, request, self.clock.now()))

    async def poll(
        self, namespace_id: str, activity_id: str, run_id: str, wait: float
    ) -> PollActivityExecutionResponse:
        """The outcome once the activity has closed; an empty answer if it is still open after
        `wait` seconds (the client asks again)."""
        key = await self.resolve(namespace_id, activity_id, run_id)
        return await self.executions.wait_until(key, _poll_response, lambda r: r.HasField("outcome"), wait)

    async def request_cancel(self, namespace_id: str, activity_id: str, run_id: str, reason: str) -> None:
        key = await self.resolve(namespace_id, activity_id, run_id)
        await self.core.update(key, lambda m: standalone.request_cancel(m, reason))

    async def terminate(
        self, namespace_id: str, activity_id: str, run_id: str, reason: str, identity: str
    ) -> None:
        key = await self.resolve(namespace_id, activity_id, run_id)
        await self.core.update(key, lambda m: standalone.terminate(m, reason, identity))


def _existing(
    request: StartActivityExecutionRequest, current: CurrentExecution
) -> StartActivityExecutionResponse | None:
    """Apply the id conflict and reuse policies; a response means: do not start."""
    if current.start_request_id == request.request_id:
        return StartActivityExecutionResponse(run_id=current.run_id, started=True)
    if current.status == Status.WORKFLOW_EXECUTION_STATUS_RUNNING:
        if request.id_conflict_policy == ActivityIdConflictPolicy.ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING:
            return StartActivityExecutionResponse(run_id=current.run_id, started=False)
        raise _already_started(current)
    policy = request.id_reuse_policy
    if policy == Reuse.ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE or (
        policy == Reuse.ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY and current.status not in _FAILED
    ):
        raise _already_started(current)
    return None


def _already_started(current: CurrentExecution) -> AlreadyExists:
    return AlreadyExists(
        "Activity execution already started",
        ActivityExecutionAlreadyStartedFailure(
            start_request_id=current.start_request_id, run_id=current.run_id
        ),
    )


def _description(
    s: ExecutionState, request: DescribeActivityExecutionRequest, now: datetime
) -> DescribeActivityExecutionResponse:
    standalone_activity = standalone.standalone_of(s)
    activity = standalone.current_activity(s)
    pending = pending_activity(activity, now)
    info = ActivityExecutionInfo(
        activity_id=standalone_activity.activity_id,
        run_id=s.run_id,
        activity_type=activity.attributes.activity_type,
        status=ACTIVITY_STATUS[s.status],
        task_queue=activity.attributes.task_queue.name,
        schedule_to_close_timeout=activity.attributes.schedule_to_close_timeout,
        schedule_to_start_timeout=activity.attributes.schedule_to_start_timeout,
        start_to_close_timeout=activity.attributes.start_to_close_timeout,
        heartbeat_timeout=activity.attributes.heartbeat_timeout,
        retry_policy=activity_operations.options_of(activity).retry_policy,
        attempt=activity.attempt,
        last_worker_identity=activity.last_worker_identity,
        priority=activity.attributes.priority,
        state_transition_count=s.state_transition_count,
        search_attributes=s.search_attributes,
        header=activity.attributes.header,
        canceled_reason=standalone_activity.canceled_reason,
        start_delay=s.start.first_workflow_task_backoff,
    )
    del info.search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    if s.running:
        info.run_state = pending.state
    for name in (
        "last_heartbeat_time",
        "last_started_time",
        "last_failure",
        "current_retry_interval",
        "last_attempt_complete_time",
        "next_attempt_schedule_time",
        "expiration_time",
    ):
        if pending.HasField(name):
            getattr(info, name).CopyFrom(getattr(pending, name))
    if request.include_heartbeat_details and activity.heartbeat_details is not None:
        info.heartbeat_details.CopyFrom(activity.heartbeat_details)
    if standalone_activity.user_metadata is not None:
        info.user_metadata.CopyFrom(standalone_activity.user_metadata)
    info.schedule_time.CopyFrom(codec.timestamp(s.start_time))
    info.execution_time.CopyFrom(codec.timestamp(s.execution_time))
    if s.close_time is not None:
        info.close_time.CopyFrom(codec.timestamp(s.close_time))
        info.execution_duration.FromTimedelta(s.close_time - s.execution_time)
    response = DescribeActivityExecutionResponse(
        run_id=s.run_id,
        info=info,
        long_poll_token=s.state_transition_count.to_bytes(8, "big"),
    )
    if request.include_input:
        response.input.CopyFrom(activity.attributes.input)
    if request.include_outcome and standalone_activity.outcome is not None:
        response.outcome.CopyFrom(standalone_activity.outcome)
    return response


def _poll_response(s: ExecutionState) -> PollActivityExecutionResponse:
    outcome = standalone.standalone_of(s).outcome
    response = PollActivityExecutionResponse(run_id=s.run_id)
    if outcome is not None:
        response.outcome.CopyFrom(outcome)
    return response


def _transitions_of(token: bytes) -> int:
    if len(token) != 8:
        raise InvalidArgument("invalid long poll token")
    return int.from_bytes(token, "big")
