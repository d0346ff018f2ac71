"""Client-facing operations on workflows: start, signal, cancel, terminate, describe."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from temporalio.api.common.v1 import SearchAttributes, WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    WorkflowExecutionStatus,
    WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy,
)
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.history.v1 import (
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionResponse,
    PollWorkflowTaskQueueResponse,
    RequestCancelWorkflowExecutionRequest,
    ResetWorkflowExecutionRequest,
    SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
    TerminateWorkflowExecutionRequest,
    UpdateWorkflowExecutionOptionsRequest,
)

from clepsydra.clock import Clock
from clepsydra.engine import (
    cron,
    dynamic_config,
    limits,
    reset,
    start,
    versioning,
    workflow,
    workflow_options,
)
from clepsydra.engine.dispatch import queued_workflow_task, start_queued
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.errors import WORKFLOW_COMPLETED, AlreadyExists, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.services.describe import describe_execution
from clepsydra.store.base import CurrentExecution

Status = WorkflowExecutionStatus
Reuse = WorkflowIdReusePolicy
Conflict = WorkflowIdConflictPolicy
MAX_ID_LENGTH = 1000
_FAILED_STATUSES = {
    Status.WORKFLOW_EXECUTION_STATUS_FAILED,
    Status.WORKFLOW_EXECUTION_STATUS_CANCELED,
    Status.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
}


@dataclass(frozen=True)
class ParentLink:
    """The parent of a child workflow, as its Started event records it."""

    parent: ExecutionState
    initiated_event_id: int

    def apply(self, attributes: WorkflowExecutionStartedEventAttributes, namespace_id: str) -> None:
        p = self.parent
        attributes.parent_workflow_namespace = p.namespace
        attributes.parent_workflow_namespace_id = p.namespace_id
        attributes.parent_workflow_execution.CopyFrom(
            WorkflowExecution(workflow_id=p.workflow_id, run_id=p.run_id)
        )
        attributes.parent_initiated_event_id = self.initiated_event_id
        root = p.start.root_workflow_execution
        attributes.root_workflow_execution.CopyFrom(
            root if root.workflow_id else WorkflowExecution(workflow_id=p.workflow_id, run_id=p.run_id)
        )
        attributes.ClearField("identity")
        if namespace_id == p.namespace_id:  # a version polls queues of its own namespace only
            versioning.inherit(p, attributes)


SearchAttributeCheck = Callable[[str, str, SearchAttributes], Awaitable[None]]
# The poll response of the started workflow task of an execution, for a worker identity.
EagerTask = Callable[[ExecutionKey, str], Awaitable[PollWorkflowTaskQueueResponse | None]]
# (namespace id, task queue, override): refuses a pinned override the queue cannot honour.
PinnedCheck = Callable[[str, str, VersioningOverride], None]


class Workflows:
    def __init__(
        self,
        core: HistoryCore,
        clock: Clock,
        check_search_attributes: SearchAttributeCheck | None = None,
        started_task: EagerTask | None = None,
        check_pinned: PinnedCheck | None = None,
    ) -> None:
        self.core = core
        self.clock = clock
        # Refuses a pinned override to a version that does not poll the workflow's queue.
        self.check_pinned = check_pinned
        # Refuses search attributes the namespace does not define, or of the wrong type.
        self.check_search_attributes = check_search_attributes
        # Builds the poll response of a workflow task already started: how an eager start
        # hands the caller its first workflow task.
        self.started_task = started_task

    async def start(
        self,
        namespace_id: str,
        namespace: str,
        request: StartWorkflowExecutionRequest,
        signal: WorkflowExecutionSignaledEventAttributes | None = None,
        parent: ParentLink | None = None,
        scheduled_by: str = "",
    ) -> StartWorkflowExecutionResponse:
        """`scheduled_by`: the id of the schedule starting it, to be told when it closes."""
        _validate_start(request)
        if self.check_pinned is not None:
            self.check_pinned(namespace_id, request.task_queue.name, request.versioning_override)
        if self.check_search_attributes is not None:
            await self.check_search_attributes(namespace, namespace_id, request.search_attributes)
        if not request.request_id:
            request.request_id = str(uuid.uuid4())
        async with self.core.locked(namespace_id, request.workflow_id):
            current = await self.core.current(namespace_id, request.workflow_id)
            if current is not None:
                existing = await self._existing(namespace_id, request, current)
                if existing is not None:
                    return existing
            eager = (
                request.request_eager_execution
                and parent is None
                and self.started_task is not None
                and dynamic_config.current().eager_workflow_start
            )
            response = await self._create(
                namespace_id, namespace, request, current, signal, parent, eager, scheduled_by
            )
            # Where the run began, for whoever links to it (a Nexus handler's start answer).
            started = response.link.workflow_event
            started.namespace, started.workflow_id, started.run_id = (
                namespace,
                request.workflow_id,
                response.run_id,
            )
            started.event_ref.event_id = 1
            started.event_ref.event_type = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        if eager and self.started_task is not None:
            key = ExecutionKey(namespace_id, request.workflow_id, response.run_id)
            task = await self.started_task(key, request.identity)
            if task is not None:
                response.eager_workflow_task.CopyFrom(task)
        return response

    async def _existing(
        self,
        namespace_id: str,
        request: StartWorkflowExecutionRequest,
        current: CurrentExecution,
    ) -> StartWorkflowExecutionResponse | None:
        """Apply the id reuse and conflict policies; a response means: do not start."""
        if current.start_request_id == request.request_id:
            return _response(current, started=True)
        key = ExecutionKey(namespace_id, request.workflow_id, current.run_id)
        if is_running(current.status):
            conflict = request.workflow_id_conflict_policy
            if request.workflow_id_reuse_policy == Reuse.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING:
                conflict = Conflict.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
            if conflict == Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING:
                return _response(current, started=False)
            if conflict == Conflict.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING:
                await self.core.update_locked(
                    key,
                    lambda m: workflow.terminate(
                        m,
                        "terminated by a new start (workflow id conflict policy)",
                        None,
                        request.identity,
                    ),
                )
                return None
            raise _already_started(
                f"Workflow execution is already running. WorkflowId: {request.workflow_id}, "
                f"RunId: {current.run_id}.",
                current,
            )
        policy = request.workflow_id_reuse_policy
        ids = f"WorkflowId: {request.workflow_id}, RunId: {current.run_id}."
        if policy == Reuse.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE:
            raise _already_started(
                f"Workflow execution already finished. {ids} Workflow Id reuse policy: reject duplicate "
                "workflow Id.",
                current,
            )
        if (
            policy == Reuse.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
            and current.status not in _FAILED_STATUSES
        ):
            raise _already_started(
                f"Workflow execution already finished successfully. {ids} Workflow Id reuse policy: "
                "allow duplicate workflow Id if last run failed.",
                current,
            )
        return None

    async def _create(
        self,
        namespace_id: str,
        namespace: str,
        request: StartWorkflowExecutionRequest,
        current: CurrentExecution | None,
        signal: WorkflowExecutionSignaledEventAttributes | None,
        parent: ParentLink | None,
        eager: bool = False,
        scheduled_by: str = "",
    ) -> StartWorkflowExecutionResponse:
        run_id = str(uuid.uuid4())
        now = self.clock.now()
        attributes = start.attributes_from_request(request, run_id, now)
        if parent is not None:
            parent.apply(attributes, namespace_id)
        state = start.new_execution(
            namespace_id, namespace, attributes, run_id, run_id, now, request.request_id
        )
        state.scheduled_by = scheduled_by
        state.user_metadata = request.user_metadata if request.HasField("user_metadata") else None
        m = Mutation(state, now, _new_id)
        start.begin(m, signal)
        first_task = queued_workflow_task(m) if eager else None
        if first_task is not None:  # the caller's own worker runs it: started in this write
            start_queued(m, first_task, request.identity, run_id)
        await self.core.create(m, current.run_id if current else None)
        return StartWorkflowExecutionResponse(
            run_id=run_id,
            first_execution_run_id=run_id,
            started=True,
            status=Status.WORKFLOW_EXECUTION_STATUS_RUNNING,
        )

    async def signal_with_start(
        self, namespace_id: str, request: SignalWithStartWorkflowExecutionRequest
    ) -> StartWorkflowExecutionResponse:
        if not request.signal_name:
            raise InvalidArgument("SignalName is not set on request.")
        limits.check_blob(limits.payloads_size(request.signal_input))
        signal = WorkflowExecutionSignaledEventAttributes(
            signal_name=request.signal_name,
            input=request.signal_input,
            identity=request.identity,
            header=request.header,
        )
        start = StartWorkflowExecutionRequest(
            namespace=request.namespace,
            workflow_id=request.workflow_id,
            workflow_type=request.workflow_type,
            task_queue=request.task_queue,
            identity=request.identity,
            request_id=request.request_id,
            workflow_id_reuse_policy=request.workflow_id_reuse_policy,
            workflow_id_conflict_policy=Conflict.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
            cron_schedule=request.cron_schedule,
            priority=request.priority,
        )
        for name in _START_AS_SET:  # unset stays unset
            if request.HasField(name):
                getattr(start, name).CopyFrom(getattr(request, name))
        _validate_start(start)
        current = await self.core.current(namespace_id, request.workflow_id)
        if current is not None and is_running(current.status):
            key = ExecutionKey(namespace_id, request.workflow_id, current.run_id)
            try:
                await self.core.update(key, lambda m: self._signal_running(m, signal))
                return _response(current, started=False)
            except NotFound:
                pass  # it closed meanwhile: start a new run below
        response = await self.start(namespace_id, request.namespace, start, signal)
        if not response.started:  # a run started meanwhile: signal it instead
            key = ExecutionKey(namespace_id, request.workflow_id, response.run_id)
            await self.core.update(key, lambda m: self._signal_running(m, signal))
        return response

    @staticmethod
    def _signal_running(m: Mutation, signal: WorkflowExecutionSignaledEventAttributes) -> None:
        _require_running(m.state)
        workflow.signal(
            m, signal.signal_name, signal.input, signal.identity, signal.header, signal.request_id
        )

    async def signal(self, namespace_id: str, request: SignalWorkflowExecutionRequest) -> None:
        if not request.signal_name:
            raise InvalidArgument("SignalName is not set on request.")
        limits.check_blob(limits.payloads_size(request.input))
        key = await self._resolve(namespace_id, request.workflow_execution)

        def change(m: Mutation) -> None:
            _require_running(m.state)
            workflow.signal(
                m,
                request.signal_name,
                request.input if request.HasField("input") else None,
                request.identity,
                request.header if request.HasField("header") else None,
                request.request_id,
            )

        await self.core.update(key, change)

    async def request_cancel(self, namespace_id: str, request: RequestCancelWorkflowExecutionRequest) -> None:
        key = await self._resolve(namespace_id, request.workflow_execution)

        def change(m: Mutation) -> None:
            _require_running(m.state)
            workflow.request_cancel(m, request.reason, request.identity, request.request_id)

        await self.core.update(key, change)

    async def update_options(
        self, namespace_id: str, request: UpdateWorkflowExecutionOptionsRequest
    ) -> WorkflowExecutionOptions:
        if not request.HasField("workflow_execution_options"):
            raise InvalidArgument("WorkflowExecutionOptions is required")
        if not request.HasField("update_mask"):
            raise InvalidArgument("UpdateMask is required")
        key = await self._resolve(namespace_id, request.workflow_execution)

        def change(m: Mutation) -> WorkflowExecutionOptions:
            _require_running(m.state)
            paths = list(request.update_mask.paths)
            if self.check_pinned is not None and "versioning_override" in paths:
                override = request.workflow_execution_options.versioning_override
                self.check_pinned(namespace_id, m.state.task_queue, override)
            return workflow_options.update(m, request.workflow_execution_options, paths, request.identity)

        return await self.core.update(key, change)

    async def terminate(self, namespace_id: str, request: TerminateWorkflowExecutionRequest) -> None:
        key = await self._resolve(namespace_id, request.workflow_execution)

        def change(m: Mutation) -> None:
            _require_running(m.state)
            workflow.terminate(
                m,
                request.reason,
                request.details if request.HasField("details") else None,
                request.identity,
            )

        await self.core.update(key, change)

    async def reset(self, namespace_id: str, request: ResetWorkflowExecutionRequest) -> str:
        """Start a new run from a point in a run's history; the current run, if open, ends."""
        base_key = await self._resolve(namespace_id, request.workflow_execution)
        core = self.core
        async with core.locked(namespace_id, base_key.workflow_id):
            base = await core.latest(base_key)
            events = await core.events(base_key, 1)
            new_run_id = _new_id()
            m = reset.reset(
                base,
                events,
                await core.batch_ends(base_key),
                request.workflow_task_finish_event_id,
                new_run_id,
                self.clock.now(),
                request.reason,
                request.request_id or new_run_id,
            )
            current = await core.current(namespace_id, base_key.workflow_id)
            assert current is not None
            if is_running(current.status):
                current_key = ExecutionKey(namespace_id, base_key.workflow_id, current.run_id)
                await core.update_locked(
                    current_key, lambda t: workflow.terminate(t, request.reason, None, "history-resetter")
                )
            await core.create(m, current.run_id)
        return new_run_id

    async def describe(
        self, namespace_id: str, execution: WorkflowExecution
    ) -> DescribeWorkflowExecutionResponse:
        key = await self._resolve(namespace_id, execution)
        async with self.core.read(key) as state:
            return describe_execution(state, self.clock.now())

    async def _resolve(self, namespace_id: str, execution: WorkflowExecution) -> ExecutionKey:
        if not execution.workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        return await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)


# The fields of a signal-with-start that its start takes only if the caller set them.
_START_AS_SET: Final = (
    "input",
    "workflow_execution_timeout",
    "workflow_run_timeout",
    "workflow_task_timeout",
    "retry_policy",
    "memo",
    "search_attributes",
    "header",
    "workflow_start_delay",
    "user_metadata",
)


def is_running(status: int) -> bool:
    return status == Status.WORKFLOW_EXECUTION_STATUS_RUNNING


def _new_id() -> str:
    return str(uuid.uuid4())


def _require_running(state: ExecutionState) -> None:
    if not state.running:
        raise NotFound(WORKFLOW_COMPLETED)


def _response(current: CurrentExecution, started: bool) -> StartWorkflowExecutionResponse:
    return StartWorkflowExecutionResponse(
        run_id=current.run_id,
        first_execution_run_id=current.first_run_id,
        started=started,
        status=Status.ValueType(current.status),
    )


def _already_started(message: str, current: CurrentExecution) -> AlreadyExists:
    return AlreadyExists(
        message,
        WorkflowExecutionAlreadyStartedFailure(
            start_request_id=current.start_request_id,
            run_id=current.run_id,
            first_execution_run_id=current.first_run_id,
        ),
    )


def _validate_start(request: StartWorkflowExecutionRequest) -> None:
    if not request.workflow_id:
        raise InvalidArgument("WorkflowId is not set on request.")
    if not request.workflow_type.name:
        raise InvalidArgument("WorkflowType is not set on request.")
    if not request.task_queue.name:
        raise InvalidArgument("taskQueue is not set")
    for what, value in [
        ("WorkflowId", request.workflow_id),
        ("WorkflowType", request.workflow_type.name),
        ("TaskQueue", request.task_queue.name),
        ("RequestId", request.request_id),
    ]:
        if len(value) > MAX_ID_LENGTH:
            raise InvalidArgument(f"{what} exceeds length limit.")
    for what, duration in [
        ("WorkflowExecutionTimeout", request.workflow_execution_timeout),
        ("WorkflowRunTimeout", request.workflow_run_timeout),
        ("WorkflowTaskTimeout", request.workflow_task_timeout),
    ]:
        if duration.seconds < 0 or duration.nanos < 0:
            raise InvalidArgument(f"Invalid {what}.")
    if request.cron_schedule:
        cron.validate(request.cron_schedule)
    limits.check_blob(limits.payloads_size(request.input))
    if request.memo.ByteSize() > dynamic_config.current().memo_size_limit:
        raise InvalidArgument("Memo size exceeds limit.")
