"""DescribeWorkflowExecution: what an execution's mutable state says about it."""

from __future__ import annotations

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState
from temporalio.api.workflow.v1 import (
    PendingActivityInfo,
    PendingChildExecutionInfo,
    PendingWorkflowTaskInfo,
    WorkflowExecutionConfig,
    WorkflowExecutionInfo,
)
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

from clepsydra.engine.state import ExecutionState


def describe_execution(s: ExecutionState) -> DescribeWorkflowExecutionResponse:
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
    info.start_time.FromDatetime(s.start_time)
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
        ),
        workflow_execution_info=info,
    )
    for activity in s.activities.values():
        pending = PendingActivityInfo(
            activity_id=activity.activity_id,
            activity_type=activity.attributes.activity_type,
            state=PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
            if activity.cancel_requested
            else PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            if activity.started
            else PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
            attempt=activity.attempt,
            maximum_attempts=activity.attributes.retry_policy.maximum_attempts,
            last_worker_identity=activity.last_worker_identity,
        )
        if activity.heartbeat_details is not None:
            pending.heartbeat_details.CopyFrom(activity.heartbeat_details)
        if activity.last_heartbeat_time is not None:
            pending.last_heartbeat_time.FromDatetime(activity.last_heartbeat_time)
        if activity.started_time is not None:
            pending.last_started_time.FromDatetime(activity.started_time)
        if activity.last_failure is not None:
            pending.last_failure.CopyFrom(activity.last_failure)
        pending.scheduled_time.FromDatetime(
            activity.current_attempt_scheduled_time or activity.scheduled_time
        )
        schedule_to_close = activity.attributes.schedule_to_close_timeout.ToTimedelta()
        if schedule_to_close.total_seconds() > 0:
            pending.expiration_time.FromDatetime(activity.scheduled_time + schedule_to_close)
        response.pending_activities.append(pending)
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
    return response
