"""Worker-facing operations: polling for tasks and reporting their outcomes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.api.command.v1 import Command
from temporalio.api.common.v1 import Payloads, SearchAttributes, WorkflowExecution
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollActivityTaskQueueResponse,
    PollWorkflowTaskQueueResponse,
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
)

from clepsydra.engine import activity, codec, commands, limits, workflow, workflow_task
from clepsydra.engine.dispatch import queued_workflow_task, start_queued
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo, ExecutionKey, ExecutionState
from clepsydra.engine.tasks import QueueKind
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import WORKFLOW_COMPLETED, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import (
    AnyDispatch,
    Dispatch,
    QueryDispatch,
    RemoteBacklog,
    Started,
    TryAgain,
)
from clepsydra.services.queries import Queries
from clepsydra.services.tokens import TaskToken
from clepsydra.services.updates import Updates
from clepsydra.services.workflows import SearchAttributeCheck

R = TypeVar("R")
# Fetches a task from the process at an address (a poll forwarded there); None if it had none.
Fetch = Callable[[str], Awaitable[R | None]]
UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
BAD_SEARCH_ATTRIBUTES = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES


class WorkerTasks:
    def __init__(
        self,
        core: HistoryCore,
        queries: Queries,
        updates: Updates,
        check_search_attributes: SearchAttributeCheck | None = None,
    ) -> None:
        self.core = core
        self.queries = queries
        self.updates = updates
        # Refuses search attributes the namespace does not define (those commands set).
        self.check_search_attributes = check_search_attributes

    async def _poll(
        self,
        namespace_id: str,
        task_queue: str,
        kind: QueueKind,
        identity: str,
        timeout: float,
        fetch: Fetch[R] | None,
        start: Callable[[AnyDispatch], Awaitable[R | None]],
        respond: Callable[[Dispatch, Any], Awaitable[R | None]],
    ) -> R | None:
        """The first task of the queue that could be started within `timeout`: from this
        process, or (with `fetch`) from another one that announced tasks of the queue.
        `start` starts a task and answers; `respond` answers for one started already."""
        if not task_queue:
            raise InvalidArgument("TaskQueue is not set on request.")
        matching = self.core.matching
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(0.0, deadline - loop.time())
            item = await matching.poll(
                namespace_id,
                task_queue,
                kind,
                identity,
                self.core.clock.now(),
                remaining,
                local_only=fetch is None or remaining == 0,
            )
            if item is None:
                return None
            if isinstance(item, RemoteBacklog):
                assert fetch is not None
                asked = time.monotonic()
                response = await fetch(item.address)
                if response is not None:
                    return response
                matching.drained(namespace_id, task_queue, kind, item.address, asked)
                continue
            if isinstance(item, TryAgain):
                continue
            response = await (
                respond(item.dispatch, item.outcome) if isinstance(item, Started) else start(item)
            )
            if response is not None:
                return response

    async def _start(self, dispatch: Dispatch, record, *args):  # type: ignore[no-untyped-def]
        """Mark a dispatched task started; None if it went stale while it waited."""
        try:
            return await self.core.update(
                dispatch.key,
                lambda m: record(m, dispatch.task.scheduled_event_id, dispatch.task.attempt, *args),
                done_queue_task=dispatch.task.key,
            )
        except NotFound:
            await self.core.store.delete_queue_task(dispatch.key, dispatch.task.key)
            return None
        except BaseException:
            self.core.matching.add(dispatch, front=True)  # not started: let another poll have it
            raise

    # -- workflow tasks ---------------------------------------------------------------------

    async def poll_workflow_task(
        self,
        namespace_id: str,
        task_queue: str,
        identity: str,
        timeout: float,
        fetch: Fetch[PollWorkflowTaskQueueResponse] | None = None,
    ) -> PollWorkflowTaskQueueResponse:
        async def start(dispatch: AnyDispatch) -> PollWorkflowTaskQueueResponse | None:
            if isinstance(dispatch, QueryDispatch):
                return await self.queries.task(dispatch) if self.queries.wanted(dispatch) else None
            request_id = str(uuid.uuid4())
            transient = await self._start(dispatch, workflow_task.record_started, identity, request_id)
            return None if transient is None else await self._workflow_task_response(dispatch.key, transient)

        response = await self._poll(
            namespace_id,
            task_queue,
            QueueKind.WORKFLOW,
            identity,
            timeout,
            fetch,
            start,
            lambda dispatch, transient: self._workflow_task_response(dispatch.key, transient),
        )
        return response or PollWorkflowTaskQueueResponse()

    async def started_workflow_task(
        self, key: ExecutionKey, identity: str
    ) -> PollWorkflowTaskQueueResponse | None:
        """The workflow task of `key` that the write starting the workflow started for
        `identity`: the first task of an eager start, for the caller's own worker."""
        return await self._workflow_task_response(key, [], identity)

    async def _workflow_task_response(
        self, key: ExecutionKey, transient: list, identity: str | None = None
    ) -> PollWorkflowTaskQueueResponse | None:  # type: ignore[type-arg]
        async with self.core.reading(key) as state:
            task = state.workflow_task
            if task is None or task.started_event_id == 0:
                return None  # it ended (timed out, the run closed) before it could be handed out
            if identity is not None and task.identity != identity:
                return None
            # A sticky worker has the workflow cached: it only needs what happened since.
            sticky = task.task_queue != state.task_queue
            events = await self.core.read_events(key, state.previous_started_event_id + 1 if sticky else 1)
            events.extend(transient)
            token = TaskToken(*_key_fields(key), task.scheduled_event_id, task.attempt)
            response = PollWorkflowTaskQueueResponse(
                task_token=token.encode(),
                workflow_execution=_execution(state),
                workflow_type=state.start.workflow_type,
                previous_started_event_id=state.previous_started_event_id,
                started_event_id=task.started_event_id,
                attempt=task.attempt,
                history=History(events=events),
                workflow_execution_task_queue=TaskQueue(name=state.task_queue, kind=1),
                messages=self.updates.messages(key, task.started_event_id - 1),
            )
            response.scheduled_time.CopyFrom(codec.timestamp(task.scheduled_time))
            if task.started_time is not None:
                response.started_time.CopyFrom(codec.timestamp(task.started_time))
            return response

    async def complete_workflow_task(
        self, request: RespondWorkflowTaskCompletedRequest
    ) -> RespondWorkflowTaskCompletedResponse:
        """Apply the worker's commands. The answer carries the activity tasks the worker asked
        to run itself (eagerly) and, if it asked for it, the next workflow task when the
        completion makes one at once (events arrived meanwhile): both started already."""
        token = TaskToken.decode(request.task_token)
        await self._check_search_attributes(token, request)

        def change(m: Mutation) -> tuple[list[ActivityInfo], list[HistoryEvent] | None]:
            eager = complete(m)
            if eager is None:
                return [], None
            if not request.return_new_workflow_task or not m.state.running:
                return eager, None
            workflow_task.schedule_if_needed(m)
            # Only one on the worker's sticky queue: the worker needs just the events since.
            new_task = queued_workflow_task(m, sticky_only=True)
            if new_task is None:
                return eager, None
            return eager, start_queued(m, new_task, request.identity, str(uuid.uuid4()))

        def complete(m: Mutation) -> list[ActivityInfo] | None:
            """None if the task failed instead (events came that the worker must see first)."""
            task = workflow_task.started_task(m.state, token.scheduled_event_id, token.attempt)
            if commands.closes_workflow(request.commands) and m.state.buffered_events:
                # New events arrived while the worker decided to close: it must see them first.
                workflow_task.fail(
                    m,
                    task,
                    UNHANDLED_COMMAND,
                    Failure(message="UnhandledCommand"),
                    request.identity,
                )
                return None
            completed_event_id = workflow_task.complete(m, task, request)
            commands.apply(m, completed_event_id, request.commands, request.identity, request.messages)
            workflow_task.finish_completion(m, request.force_create_new_workflow_task)
            too_long = limits.history_limit_reason(m)
            if too_long is not None and m.state.running:
                workflow.terminate(m, too_long, None, "history-service")
            return activity.start_eagerly(m, request.identity)

        try:
            eager, transient = await self.core.update(token.key, change)
        except CommandError as error:
            await self._fail_workflow_task(
                token, error.cause, Failure(message=error.message), request.identity
            )
            raise InvalidArgument(error.message) from None
        response = RespondWorkflowTaskCompletedResponse()
        if eager:
            async with self.core.reading(token.key) as state:
                response.activity_tasks.extend(
                    _activity_task(state, info, request.namespace) for info in eager
                )
        if transient is not None:
            new_task = await self._workflow_task_response(token.key, transient, request.identity)
            if new_task is not None:
                response.workflow_task.CopyFrom(new_task)
        return response

    async def _check_search_attributes(
        self, token: TaskToken, request: RespondWorkflowTaskCompletedRequest
    ) -> None:
        """Search attributes set by commands are checked as those given at a start; a bad one
        fails the workflow task with BAD_SEARCH_ATTRIBUTES, as on the reference server."""
        if self.check_search_attributes is None:
            return
        for command in request.commands:
            attributes = _search_attributes_of(command)
            if attributes is None:
                continue
            try:
                await self.check_search_attributes(request.namespace, token.namespace_id, attributes)
            except InvalidArgument as error:
                message = f"BadSearchAttributes: {error.message}"
                await self._fail_workflow_task(
                    token, BAD_SEARCH_ATTRIBUTES, Failure(message=message), request.identity
                )
                raise InvalidArgument(message) from None

    async def fail_workflow_task(self, request: RespondWorkflowTaskFailedRequest) -> None:
        token = TaskToken.decode(request.task_token)
        await self._fail_workflow_task(
            token,
            request.cause,
            request.failure if request.HasField("failure") else None,
            request.identity,
            request.binary_checksum,
        )

    async def _fail_workflow_task(
        self,
        token: TaskToken,
        cause: WorkflowTaskFailedCause.ValueType,
        failure: Failure | None,
        identity: str,
        binary_checksum: str = "",
    ) -> None:
        def change(m: Mutation) -> None:
            task = workflow_task.started_task(m.state, token.scheduled_event_id, token.attempt)
            workflow_task.fail(m, task, cause, failure, identity, binary_checksum)

        await self.core.update(token.key, change)

    async def release_sticky_queue(self, namespace_id: str, sticky_queue: str) -> None:
        """A worker shut down: its cached workflows' waiting tasks go to the normal queue now."""
        if not sticky_queue:
            return
        for dispatch in self.core.matching.release(namespace_id, sticky_queue):
            if isinstance(dispatch, Dispatch):
                await self.core.sticky_worker_gone(dispatch)

    async def reset_sticky(self, key: ExecutionKey) -> None:
        await self.core.update(key, workflow_task.reset_sticky)

    # -- activity tasks ---------------------------------------------------------------------

    async def poll_activity_task(
        self,
        namespace_id: str,
        namespace: str,
        task_queue: str,
        identity: str,
        timeout: float,
        fetch: Fetch[PollActivityTaskQueueResponse] | None = None,
    ) -> PollActivityTaskQueueResponse:
        async def start(dispatch: AnyDispatch) -> PollActivityTaskQueueResponse | None:
            assert isinstance(dispatch, Dispatch)  # queries only go to workflow task queues
            request_id = str(uuid.uuid4())
            info = await self._start(dispatch, activity.record_started, identity, request_id)
            return None if info is None else await respond(dispatch, info)

        async def respond(dispatch: Dispatch, info: ActivityInfo) -> PollActivityTaskQueueResponse:
            async with self.core.reading(dispatch.key) as state:
                return _activity_task(state, info, namespace)

        response = await self._poll(
            namespace_id, task_queue, QueueKind.ACTIVITY, identity, timeout, fetch, start, respond
        )
        return response or PollActivityTaskQueueResponse()

    async def _activity_key(
        self, namespace_id: str, token_bytes: bytes | None, workflow_id: str, run_id: str, activity_id: str
    ) -> tuple[ExecutionKey, int, int]:
        """The activity named by a task token, or by workflow id and activity id."""
        if token_bytes is not None:
            token = TaskToken.decode(token_bytes)
            return token.key, token.scheduled_event_id, token.attempt
        if not workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        if not activity_id:
            raise InvalidArgument("ActivityId is not set on request.")
        key = await self.core.resolve(namespace_id, workflow_id, run_id)
        async with self.core.reading(key) as state:
            running = state.running
            info = state.activity_by_id(activity_id)
        if not running:
            raise NotFound(WORKFLOW_COMPLETED)
        if info is None:
            raise NotFound(
                "invalid activityID or activity already timed out or invoking workflow is completed"
            )
        return key, info.scheduled_event_id, info.attempt

    async def heartbeat(
        self,
        namespace_id: str,
        token: bytes | None,
        details: Payloads | None,
        workflow_id: str = "",
        run_id: str = "",
        activity_id: str = "",
    ) -> bool:
        key, scheduled_event_id, attempt = await self._activity_key(
            namespace_id, token, workflow_id, run_id, activity_id
        )
        return await self.core.update(
            key,
            lambda m: activity.heartbeat(m, activity.pending(m.state, scheduled_event_id, attempt), details),
        )

    async def respond_activity(
        self,
        namespace_id: str,
        token: bytes | None,
        outcome: str,
        payloads: Payloads | None,
        identity: str,
        failure: Failure | None = None,
        last_heartbeat_details: Payloads | None = None,
        workflow_id: str = "",
        run_id: str = "",
        activity_id: str = "",
    ) -> None:
        """Close an activity attempt: outcome is "completed", "failed" or "canceled"."""
        key, scheduled_event_id, attempt = await self._activity_key(
            namespace_id, token, workflow_id, run_id, activity_id
        )

        if outcome == "completed" and limits.payloads_size(payloads) > limits.BLOB_SIZE_LIMIT:
            # As the reference does: the oversized result is dropped and the attempt fails for good.
            outcome, payloads = "failed", None
            failure = Failure(
                message="ActivityTaskCompleted result exceeds size limit.",
                source="Server",
                application_failure_info=ApplicationFailureInfo(non_retryable=True),
            )

        def change(m: Mutation) -> None:
            info = activity.pending(m.state, scheduled_event_id, attempt)
            if outcome == "completed":
                activity.complete(m, info, payloads, identity)
            elif outcome == "failed":
                activity.fail(m, info, failure or Failure(), identity, last_heartbeat_details)
            else:
                activity.canceled(m, info, payloads, identity)

        await self.core.update(key, change)


def _search_attributes_of(command: Command) -> SearchAttributes | None:
    """The search attributes a command sets, if it is one that sets some."""
    for field in (
        "upsert_workflow_search_attributes",
        "start_child_workflow_execution",
        "continue_as_new_workflow_execution",
    ):
        name = f"{field}_command_attributes"
        if command.HasField(name):
            return getattr(command, name).search_attributes
    return None


def _key_fields(key: ExecutionKey) -> tuple[str, str, str]:
    return key.namespace_id, key.workflow_id, key.run_id


def _execution(state: ExecutionState) -> WorkflowExecution:
    return WorkflowExecution(workflow_id=state.workflow_id, run_id=state.run_id)


def _activity_task(
    state: ExecutionState, info: ActivityInfo, namespace: str
) -> PollActivityTaskQueueResponse:
    a = info.attributes
    token = TaskToken(*_key_fields(state.key), info.scheduled_event_id, info.attempt, info.activity_id)
    response = PollActivityTaskQueueResponse(
        task_token=token.encode(),
        workflow_namespace=namespace,
        workflow_type=state.start.workflow_type,
        workflow_execution=_execution(state),
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
    if info.heartbeat_details is not None:
        response.heartbeat_details.CopyFrom(info.heartbeat_details)
    response.scheduled_time.CopyFrom(codec.timestamp(info.scheduled_time))
    response.current_attempt_scheduled_time.CopyFrom(
        codec.timestamp(info.current_attempt_scheduled_time or info.scheduled_time)
    )
    if info.started_time is not None:
        response.started_time.CopyFrom(codec.timestamp(info.started_time))
    return response
