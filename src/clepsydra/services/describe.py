"""DescribeWorkflowExecution: what an execution's mutable state says about it."""

from __future__ import annotations

from datetime import datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, PendingActivityState, PendingWorkflowTaskState
from temporalio.api.workflow.v1 import (
    PendingActivityInfo,
    PendingChildExecutionInfo,
    PendingWorkflowTaskInfo,
    RequestIdInfo,
    WorkflowExecutionConfig,
    WorkflowExecutionExtendedInfo,
    WorkflowExecutionInfo,
)
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

from clepsydra.engine import activity_operations, versioning
from clepsydra.engine.state import ActivityInfo, ExecutionState
from clepsydra.services.nexus_describe import add_nexus

GO_ZERO_TIME = -62135596800
_STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
_SCHEDULED = PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED


def describe_execution(s: ExecutionState, now: datetime) -> DescribeWorkflowExecutionResponse:
    info = WorkflowExecutionInfo(
        execution=WorkflowExecution(workflow_id=s.workflow_id, run_id=s.run_id),
        type=s.start.workflow_type,
        status=s.status,
        history_length=s.history_length,
        memo=s.memo,
        search_attributes=s.search_attributes,
        task_queue=s.task_queue,
        state_transition_count=s.state_transition_count,
        history_size_bytes=s.history_size_bytes,
        first_run_id=s.first_run_id,
    )
    if s.start.HasField("priority"):
        info.priority.CopyFrom(s.start.priority)
    versioning_info = versioning.info(s)
    if versioning_info is not None:
        info.versioning_info.CopyFrom(versioning_info)
    info.start_time.FromDatetime(s.start_time)
    if s.auto_reset_points.points:
        info.auto_reset_points.CopyFrom(s.auto_reset_points)
    info.execution_time.FromDatetime(s.execution_time)
    if s.close_time is not None:
        info.close_time.FromDatetime(s.close_time)
        info.execution_duration.FromTimedelta(s.close_time - s.execution_time)
    start = s.start
    if start.parent_workflow_execution.workflow_id:
        info.parent_namespace_id = start.parent_workflow_namespace_id
        info.parent_execution.CopyFrom(start.parent_workflow_execution)
    info.root_execution.CopyFrom(
        start.root_workflow_execution if start.root_workflow_execution.workflow_id else info.execution
    )
    response = DescribeWorkflowExecutionResponse(
        execution_config=WorkflowExecutionConfig(
            task_queue=s.start.task_queue,
            workflow_execution_timeout=s.start.workflow_execution_timeout,
            workflow_run_timeout=s.start.workflow_run_timeout,
            default_workflow_task_timeout=s.start.workflow_task_timeout,
            user_metadata=s.user_metadata,
        ),
        workflow_execution_info=info,
    )
    response.workflow_extended_info.CopyFrom(_extended_info(s))
    response.pending_activities.extend(pending_activity(a, now) for a in s.activities.values())
    for child in s.children.values() if s.running else ():
        response.pending_children.append(
            PendingChildExecutionInfo(
                workflow_id=child.attributes.workflow_id,
                run_id=child.run_id,
                workflow_type_name=child.attributes.workflow_type.name,
                initiated_id=child.initiated_event_id,
                parent_close_policy=child.attributes.parent_close_policy,
            )
        )
    task = s.workflow_task
    if task is not None:
        pending_task = PendingWorkflowTaskInfo(
            state=PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
            if task.started
            else PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED,
            attempt=task.attempt,
        )
        pending_task.scheduled_time.FromDatetime(task.scheduled_time)
        pending_task.original_scheduled_time.FromDatetime(task.scheduled_time)
        if task.started_time is not None:
            pending_task.started_time.FromDatetime(task.started_time)
        response.pending_workflow_task.CopyFrom(pending_task)
    add_nexus(response, s)
    return response


def _extended_info(s: ExecutionState) -> WorkflowExecutionExtendedInfo:
    info = WorkflowExecutionExtendedInfo(cancel_requested=s.cancel_requested)
    info.original_start_time.FromDatetime(s.start_time)
    if s.start.HasField("workflow_execution_expiration_time"):
        info.execution_expiration_time.CopyFrom(s.start.workflow_execution_expiration_time)
    run_timeout = s.start.workflow_run_timeout.ToTimedelta()
    if run_timeout:
        info.run_expiration_time.FromDatetime(s.execution_time + run_timeout)
    else:
        info.run_expiration_time.FromSeconds(GO_ZERO_TIME)  # none, as the reference says it
    if s.start_request_id:
        info.request_id_infos[s.start_request_id].CopyFrom(
            RequestIdInfo(event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, event_id=1)
        )
    return info


def pending_activity(activity: ActivityInfo, now: datetime) -> PendingActivityInfo:
    """An activity as describe shows it: its state, attempt, heartbeat, pause and options."""
    paused = activity.pause is not None
    if activity.cancel_requested:
        state = PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
    elif activity.started:
        state = _STARTED if not paused else PendingActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED
    else:
        state = _SCHEDULED if not paused else PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
    pending = PendingActivityInfo(
        activity_id=activity.activity_id,
        activity_type=activity.attributes.activity_type,
        state=state,
        attempt=activity.attempt,
        maximum_attempts=activity.attributes.retry_policy.maximum_attempts,
        last_worker_identity=activity.last_worker_identity,
        paused=paused,
        priority=activity.attributes.priority,
        activity_options=activity_operations.options_of(activity),
    )
    pending.activity_options.task_queue.ClearField("kind")
    pending.activity_options.task_queue.normal_name = activity.attributes.task_queue.name
    if activity.heartbeat_details is not None:
        pending.heartbeat_details.CopyFrom(activity.heartbeat_details)
    if activity.last_heartbeat_time is not None:
        pending.last_heartbeat_time.FromDatetime(activity.last_heartbeat_time)
    if activity.started_time is not None:
        pending.last_started_time.FromDatetime(activity.started_time)
    if activity.last_failure is not None:
        pending.last_failure.CopyFrom(activity.last_failure)
    scheduled_time = activity.current_attempt_scheduled_time or activity.scheduled_time
    pending.scheduled_time.FromDatetime(scheduled_time)
    if activity.last_attempt_complete_time is not None:
        pending.last_attempt_complete_time.FromDatetime(activity.last_attempt_complete_time)
        if state == _SCHEDULED and scheduled_time > now:  # waiting out its retry backoff
            pending.next_attempt_schedule_time.FromDatetime(scheduled_time)
            pending.current_retry_interval.FromTimedelta(scheduled_time - activity.last_attempt_complete_time)
    schedule_to_close = activity.attributes.schedule_to_close_timeout.ToTimedelta()
    if schedule_to_close.total_seconds() > 0:
        pending.expiration_time.FromDatetime(activity.scheduled_time + schedule_to_close)
    if activity.pause is not None:
        pause = pending.pause_info
        pause.pause_time.FromDatetime(activity.pause.time)
        pause.manual.identity = activity.pause.identity
        pause.manual.reason = activity.pause.reason
    return pending
