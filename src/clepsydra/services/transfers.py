"""Carry out transfer tasks: what one execution's change asks of another execution.

Each action re-reads the state of the execution that asked for it, acts on the other
execution through the ordinary update path, then records the outcome (deleting the
task in the same write). Deterministic request ids make a repeated action a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ParentClosePolicy, TaskQueueKind
from temporalio.api.history.v1 import (
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from clepsydra.engine import children, external, workflow
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ChildInfo, ExecutionKey, ExecutionState
from clepsydra.engine.tasks import TransferKind, TransferTask
from clepsydra.errors import AlreadyExists, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.services.nexus_callbacks import NexusCallbacks
from clepsydra.services.nexus_calls import NexusCalls
from clepsydra.services.schedule_transfers import ScheduleTransfers
from clepsydra.services.workflows import ParentLink, Workflows

IDENTITY = "history-service"
# What a workflow asked to send to another: a signal or a cancel request.
Initiated = TypeVar(
    "Initiated",
    SignalExternalWorkflowExecutionInitiatedEventAttributes,
    RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
)


# What a child's start takes from its initiated event only if the parent's command set it.
_CHILD_START_AS_SET: Final = (
    "input",
    "workflow_execution_timeout",
    "workflow_run_timeout",
    "retry_policy",
    "memo",
    "search_attributes",
    "header",
)


class TransferActions:
    def __init__(
        self,
        core: HistoryCore,
        workflows: Workflows,
        nexus_calls: NexusCalls | None = None,
        nexus_callbacks: NexusCallbacks | None = None,
    ) -> None:
        self.core = core
        self.workflows = workflows
        self.schedules = ScheduleTransfers(core, workflows)
        self.nexus_calls = nexus_calls
        self.nexus_callbacks = nexus_callbacks

    async def execute(self, key: ExecutionKey, task: TransferTask) -> None:
        if not self.core.owns(key):
            return  # its shard moved: the new owner loaded the task with the shard
        try:
            source = await self.core.latest(key)
        except NotFound:
            await self.core.delete_transfer(key, task.key)
            return
        match task.kind:
            case TransferKind.START_CHILD:
                await self._start_child(source, task)
            case TransferKind.SIGNAL_EXTERNAL:
                await self._signal(source, task)
            case TransferKind.CANCEL_EXTERNAL:
                await self._cancel(source, task)
            case TransferKind.NOTIFY_PARENT:
                await self._notify_parent(source, task)
            case TransferKind.PARENT_CLOSE_POLICY:
                await self._apply_parent_close_policy(source, task)
            case TransferKind.SCHEDULE_START:
                await self.schedules.start(source, task)
            case TransferKind.SCHEDULE_STOP:
                await self.schedules.stop(source, task)
            case TransferKind.NOTIFY_SCHEDULER:
                await self.schedules.notify(source, task)
            case TransferKind.NEXUS_START if self.nexus_calls is not None:
                await self.nexus_calls.start(source, task)
            case TransferKind.NEXUS_CANCEL if self.nexus_calls is not None:
                await self.nexus_calls.cancel(source, task)
            case TransferKind.NEXUS_CALLBACK if self.nexus_callbacks is not None:
                await self.nexus_callbacks.deliver(source, task)

    async def _done(
        self, source: ExecutionState, task: TransferTask, record: Callable[[Mutation], None]
    ) -> None:
        await self.core.update(source.key, record, done_transfer=task.key)

    def _request_id(self, source: ExecutionState, task: TransferTask) -> str:
        return f"{source.run_id}:{task.key}"

    async def _start_child(self, parent: ExecutionState, task: TransferTask) -> None:
        child = parent.children.get(task.event_id)
        if not parent.running or child is None or child.started:
            await self.core.delete_transfer(parent.key, task.key)
            return
        a = child.attributes
        request = StartWorkflowExecutionRequest(
            namespace=a.namespace,
            workflow_id=a.workflow_id,
            workflow_type=a.workflow_type,
            task_queue=TaskQueue(name=a.task_queue.name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            workflow_task_timeout=a.workflow_task_timeout,
            request_id=self._request_id(parent, task),
            workflow_id_reuse_policy=a.workflow_id_reuse_policy,
            cron_schedule=a.cron_schedule,
            priority=a.priority,
            user_metadata=child.user_metadata,
        )
        for name in _CHILD_START_AS_SET:  # unset stays unset, as on the reference
            if a.HasField(name):
                getattr(request, name).CopyFrom(getattr(a, name))
        try:
            started = await self.workflows.start(
                a.namespace_id, a.namespace, request, parent=ParentLink(parent, task.event_id)
            )
        except AlreadyExists:
            await self._done(parent, task, lambda m: children.record_start_failed(m, task.event_id))
            return
        await self._done(parent, task, lambda m: children.record_started(m, task.event_id, started.run_id))

    async def _signal(self, source: ExecutionState, task: TransferTask) -> None:
        request_id = self._request_id(source, task)
        await self._send(
            source,
            task,
            source.signals_out.get(task.event_id),
            lambda m, a, sender: workflow.signal(
                m, a.signal_name, a.input, IDENTITY, a.header, request_id, sender
            ),
            external.record_signal_outcome,
        )

    async def _cancel(self, source: ExecutionState, task: TransferTask) -> None:
        request_id = self._request_id(source, task)
        await self._send(
            source,
            task,
            source.cancels_out.get(task.event_id),
            lambda m, a, sender: workflow.request_cancel(
                m, a.reason, IDENTITY, request_id, sender, task.event_id
            ),
            external.record_cancel_outcome,
        )

    async def _send(
        self,
        source: ExecutionState,
        task: TransferTask,
        initiated: Initiated | None,
        deliver: Callable[[Mutation, Initiated, WorkflowExecution], None],
        record: Callable[[Mutation, int, bool], None],
    ) -> None:
        """Deliver a signal or cancel request to its target, then record whether it arrived."""
        if not source.running or initiated is None:
            await self.core.delete_transfer(source.key, task.key)
            return
        sender = WorkflowExecution(workflow_id=source.workflow_id, run_id=source.run_id)

        def change(m: Mutation) -> None:
            _require_target(m.state, source, initiated.child_workflow_only)
            deliver(m, initiated, sender)

        delivered = await self._deliver(source, initiated.workflow_execution, change)
        await self._done(source, task, lambda m: record(m, task.event_id, delivered))

    async def _deliver(
        self, source: ExecutionState, target: WorkflowExecution, change: Callable[[Mutation], None]
    ) -> bool:
        try:
            key = await self.core.resolve(source.namespace_id, target.workflow_id, target.run_id)
            await self.core.update(key, change)
            return True
        except (NotFound, InvalidArgument):  # gone, or refusing more signals
            return False

    async def _notify_parent(self, child: ExecutionState, task: TransferTask) -> None:
        start = child.start
        parent = ExecutionKey(
            start.parent_workflow_namespace_id,
            start.parent_workflow_execution.workflow_id,
            start.parent_workflow_execution.run_id,
        )
        (close,) = await self.core.events(child.key, child.next_event_id - 1)
        with contextlib.suppress(NotFound):  # a parent that is gone needs no news
            await self.core.update(
                parent, lambda m: children.record_closed(m, start.parent_initiated_event_id, close)
            )
        await self.core.delete_transfer(child.key, task.key)

    async def _apply_parent_close_policy(self, parent: ExecutionState, task: TransferTask) -> None:
        for child in list(parent.children.values()):
            await self._close_child(parent, child)
        await self.core.delete_transfer(parent.key, task.key)

    async def _close_child(self, parent: ExecutionState, child: ChildInfo) -> None:
        policy = child.attributes.parent_close_policy
        if policy == ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON or not child.started:
            return
        reason = "by parent close policy"

        def close(m: Mutation) -> None:
            if not m.state.running or m.state.start.parent_workflow_execution.run_id != parent.run_id:
                return
            if policy == ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE:
                workflow.terminate(m, reason, None, IDENTITY)
            else:
                workflow.request_cancel(
                    m, reason, IDENTITY, f"{parent.run_id}:close:{child.initiated_event_id}"
                )

        with contextlib.suppress(NotFound):
            key = await self.core.resolve(parent.namespace_id, child.attributes.workflow_id, "")
            await self.core.update(key, close)


def _require_target(target: ExecutionState, source: ExecutionState, child_only: bool) -> None:
    if not target.running:
        raise NotFound("workflow execution already completed")
    if child_only and target.start.parent_workflow_execution.workflow_id != source.workflow_id:
        raise NotFound("the workflow is not a child of the sender")
