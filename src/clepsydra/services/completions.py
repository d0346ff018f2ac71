"""Workers' reports on their tasks: workflow task completions and failures, activity
heartbeats, results, failures and cancellations."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from temporalio.api.command.v1 import Command
from temporalio.api.common.v1 import Payloads, SearchAttributes, WorkflowExecution
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    RespondWorkflowTaskCompletedResponse,
    RespondWorkflowTaskFailedRequest,
)

from clepsydra.engine import (
    activity,
    commands,
    dynamic_config,
    limits,
    speculative,
    workflow,
    workflow_task,
)
from clepsydra.engine.dispatch import queued_workflow_task, start_queued
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo, ExecutionKey
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import WORKFLOW_COMPLETED, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.services.task_responses import TaskResponses
from clepsydra.services.tokens import TaskToken, Tokens
from clepsydra.services.workflows import SearchAttributeCheck

# The ids of the Nexus endpoints of these names that exist (services/nexus_endpoints.py).
EndpointIds = Callable[[Iterable[str]], Awaitable[dict[str, str]]]
UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
BAD_SEARCH_ATTRIBUTES = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES


@dataclass(frozen=True)
class ActivityById:
    """An activity named by its workflow and activity id rather than by a task token."""

    namespace_id: str
    workflow_id: str
    run_id: str
    activity_id: str


ActivityRef = TaskToken | ActivityById


class Completions:
    def __init__(
        self,
        core: HistoryCore,
        responses: TaskResponses,
        tokens: Tokens,
        check_search_attributes: SearchAttributeCheck | None = None,
        nexus_endpoint_ids: EndpointIds | None = None,
    ) -> None:
        self.core = core
        self.responses = responses
        self.tokens = tokens
        # Refuses search attributes the namespace does not define (those commands set).
        self.check_search_attributes = check_search_attributes
        self.nexus_endpoint_ids = nexus_endpoint_ids

    # -- workflow tasks -----------------------------------------------------------------------

    async def complete_workflow_task(
        self, request: RespondWorkflowTaskCompletedRequest
    ) -> RespondWorkflowTaskCompletedResponse:
        """Apply the worker's commands. The answer carries the activity tasks the worker asked
        to run itself (eagerly) and, if it asked for it, the next workflow task when the
        completion makes one at once (events arrived meanwhile): both started already."""
        token = await self.tokens.task(request)
        await self._check_search_attributes(token, request)
        # The engine does no I/O: the endpoints that ScheduleNexusOperation commands name are
        # looked up before the change.
        endpoint_names = {
            c.schedule_nexus_operation_command_attributes.endpoint
            for c in request.commands
            if c.command_type == CommandType.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION
        }
        endpoint_ids = (
            await self.nexus_endpoint_ids(endpoint_names)
            if endpoint_names and self.nexus_endpoint_ids is not None
            else {}
        )

        dropped_at: list[int] = []

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
            dropped_at.clear()
            if speculative.drop_if_only_rejections(m, task, request):
                # The worker is told to forget the task: its events were never written.
                dropped_at.append(m.state.previous_started_event_id)
                return []
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
            commands.apply(
                m, completed_event_id, request.commands, request.identity, request.messages, endpoint_ids
            )
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
        response = RespondWorkflowTaskCompletedResponse(reset_history_event_id=sum(dropped_at))
        if eager:
            async with self.core.read(token.key) as state:
                response.activity_tasks.extend(
                    self.responses.activity_task(state, info, request.namespace) for info in eager
                )
        if transient is not None:
            new_task = await self.responses.workflow_task(token.key, transient, request.identity)
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
        token = await self.tokens.task(request)
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

    async def reset_sticky(self, namespace_id: str, execution: WorkflowExecution) -> None:
        key = await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        await self.core.update(key, workflow_task.reset_sticky)

    # -- activity tasks -----------------------------------------------------------------------

    async def heartbeat(self, ref: ActivityRef, details: Payloads | None) -> activity.HeartbeatAnswer:
        """Record progress; whether the attempt should stop (canceled, paused or reset)."""
        key, scheduled_event_id, attempt = await self._activity(ref)
        return await self.core.update(
            key,
            lambda m: activity.heartbeat(m, activity.pending(m.state, scheduled_event_id, attempt), details),
        )

    async def complete_activity(self, ref: ActivityRef, result: Payloads | None, identity: str) -> None:
        if dynamic_config.blob_too_large(limits.payloads_size(result)):
            # As the reference does: the oversized result is dropped and the attempt fails for good.
            failure = Failure(
                message="ActivityTaskCompleted result exceeds size limit.",
                source="Server",
                application_failure_info=ApplicationFailureInfo(non_retryable=True),
            )
            await self.fail_activity(ref, failure, identity, None)
            return
        key, scheduled_event_id, attempt = await self._activity(ref)
        await self.core.update(
            key,
            lambda m: activity.complete(
                m, activity.pending(m.state, scheduled_event_id, attempt), result, identity
            ),
        )

    async def fail_activity(
        self, ref: ActivityRef, failure: Failure, identity: str, last_heartbeat_details: Payloads | None
    ) -> None:
        key, scheduled_event_id, attempt = await self._activity(ref)
        await self.core.update(
            key,
            lambda m: activity.fail(
                m,
                activity.pending(m.state, scheduled_event_id, attempt),
                failure,
                identity,
                last_heartbeat_details,
            ),
        )

    async def cancel_activity(self, ref: ActivityRef, details: Payloads | None, identity: str) -> None:
        key, scheduled_event_id, attempt = await self._activity(ref)
        await self.core.update(
            key,
            lambda m: activity.canceled(
                m, activity.pending(m.state, scheduled_event_id, attempt), details, identity
            ),
        )

    async def _activity(self, ref: ActivityRef) -> tuple[ExecutionKey, int, int]:
        """The execution, scheduled event id and attempt of the activity `ref` names."""
        if isinstance(ref, TaskToken):
            return ref.key, ref.scheduled_event_id, ref.attempt
        if not ref.workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        if not ref.activity_id:
            raise InvalidArgument("ActivityId is not set on request.")
        key = await self.core.resolve(ref.namespace_id, ref.workflow_id, ref.run_id)
        async with self.core.read(key) as state:
            running = state.running
            info = state.activity_by_id(ref.activity_id)
        if not running:
            raise NotFound(WORKFLOW_COMPLETED)
        if info is None:
            raise NotFound(
                "invalid activityID or activity already timed out or invoking workflow is completed"
            )
        return key, info.scheduled_event_id, info.attempt


def _search_attributes_of(command: Command) -> SearchAttributes | None:
    """The search attributes a command sets, if it is one that sets some."""
    name = command.WhichOneof("attributes")
    if name in (
        "upsert_workflow_search_attributes_command_attributes",
        "start_child_workflow_execution_command_attributes",
        "continue_as_new_workflow_execution_command_attributes",
    ):
        return getattr(command, name).search_attributes
    return None
