"""What a worker receives for a task started for it: the poll responses of workflow and
activity tasks, built from the execution's committed state."""

from __future__ import annotations

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollActivityTaskQueueResponse, PollWorkflowTaskQueueResponse

from clepsydra.engine import codec
from clepsydra.engine.state import ActivityInfo, ExecutionKey, ExecutionState
from clepsydra.history.core import HistoryCore
from clepsydra.services.tokens import TaskToken, Tokens
from clepsydra.services.updates import Updates


class TaskResponses:
    def __init__(self, core: HistoryCore, updates: Updates, tokens: Tokens) -> None:
        self.core = core
        self.updates = updates
        self.tokens = tokens

    async def workflow_task(
        self, key: ExecutionKey, transient: list[HistoryEvent], identity: str | None = None
    ) -> PollWorkflowTaskQueueResponse | None:
        """The workflow task of `key` that is started (for `identity`, if given), with the
        transient events of a retried attempt; None if it ended before it could be handed out."""
        async with self.core.read(key) as state:
            task = state.workflow_task
            if task is None or task.started_event_id == 0:
                return None  # it ended (timed out, the run closed) before it could be handed out
            if identity is not None and task.identity != identity:
                return None
            # A sticky worker has the workflow cached: it only needs what happened since.
            sticky = task.task_queue != state.task_queue
            events = await self.core.events(key, state.previous_started_event_id + 1 if sticky else 1)
            events.extend(transient)
            token = TaskToken(
                key.namespace_id, key.workflow_id, key.run_id, task.scheduled_event_id, task.attempt
            )
            response = PollWorkflowTaskQueueResponse(
                task_token=self.tokens.seal(token),
                workflow_execution=_execution(state),
                workflow_type=state.start.workflow_type,
                previous_started_event_id=state.previous_started_event_id,
                started_event_id=task.started_event_id,
                attempt=task.attempt,
                history=History(events=events),
                workflow_execution_task_queue=TaskQueue(
                    name=state.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
                ),
                messages=self.updates.messages(key, task.started_event_id - 1),
            )
            response.scheduled_time.CopyFrom(codec.timestamp(task.scheduled_time))
            if task.started_time is not None:
                response.started_time.CopyFrom(codec.timestamp(task.started_time))
            return response

    async def started_workflow_task(
        self, key: ExecutionKey, identity: str
    ) -> PollWorkflowTaskQueueResponse | None:
        """The workflow task that the write starting the workflow started for `identity`: the
        first task of an eager start, for the caller's own worker."""
        return await self.workflow_task(key, [], identity)

    def activity_task(
        self, state: ExecutionState, info: ActivityInfo, namespace: str
    ) -> PollActivityTaskQueueResponse:
        key = state.key
        token = TaskToken(
            key.namespace_id,
            key.workflow_id,
            key.run_id,
            info.scheduled_event_id,
            info.attempt,
            info.activity_id,
        )
        return _activity_task(state, info, namespace, self.tokens.seal(token))


def _activity_task(
    state: ExecutionState, info: ActivityInfo, namespace: str, token: bytes
) -> PollActivityTaskQueueResponse:
    a = info.attributes
    response = PollActivityTaskQueueResponse(
        task_token=token,
        workflow_namespace=namespace,
        activity_type=a.activity_type,
        activity_id=a.activity_id,
        header=a.header,
        input=a.input,
        attempt=info.attempt,
        schedule_to_close_timeout=a.schedule_to_close_timeout,
        start_to_close_timeout=a.start_to_close_timeout,
        heartbeat_timeout=a.heartbeat_timeout,
        retry_policy=a.retry_policy,
        priority=a.priority,
    )
    if state.standalone is None:  # a standalone activity's worker is told of no workflow
        response.workflow_type.CopyFrom(state.start.workflow_type)
        response.workflow_execution.CopyFrom(_execution(state))
    if info.heartbeat_details is not None:
        response.heartbeat_details.CopyFrom(info.heartbeat_details)
    response.scheduled_time.CopyFrom(codec.timestamp(info.scheduled_time))
    response.current_attempt_scheduled_time.CopyFrom(
        codec.timestamp(info.current_attempt_scheduled_time or info.scheduled_time)
    )
    if info.started_time is not None:
        response.started_time.CopyFrom(codec.timestamp(info.started_time))
    return response


def _execution(state: ExecutionState) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=state.workflow_id, run_id=state.run_id)
