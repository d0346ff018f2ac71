"""The transfer tasks of schedules: start an action, stop what an overlap policy stops, and
tell a schedule that a workflow it started has closed. Each re-reads the state that asked for
it and records the outcome through the update path, deleting the task in that write."""

from __future__ import annotations

import contextlib

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    RequestCancelWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)

from clepsydra.engine import schedules
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TransferTask
from clepsydra.errors import AlreadyExists, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.services.workflows import Workflows


class ScheduleTransfers:
    def __init__(self, core: HistoryCore, workflows: Workflows) -> None:
        self.core = core
        self.workflows = workflows

    async def start(self, scheduler: ExecutionState, task: TransferTask) -> None:
        request = schedules.start_request(scheduler, task.event_id)
        if request is None or scheduler.schedule is None:
            await self.core.delete_transfer(scheduler.key, task.key)
            return
        try:
            response = await self.workflows.start(
                scheduler.namespace_id,
                scheduler.namespace,
                request,
                scheduled_by=scheduler.schedule.schedule_id,
            )
            # Started by this very request before (the task is done again after a crash): started.
            run_id, started = response.run_id, True
        except AlreadyExists:  # the id is taken by a run the reuse policy keeps
            run_id, started = "", False
        await self.core.update(
            scheduler.key,
            lambda m: schedules.start_recorded(m, task.event_id, run_id, started),
            done_transfer=task.key,
        )

    async def stop(self, scheduler: ExecutionState, task: TransferTask) -> None:
        stop = schedules.stop_request(scheduler, task.event_id)
        if stop is not None:
            identity = schedules.identity(scheduler)
            for execution in stop.executions:
                # One request id per schedule run, task and target: asking twice is asking once.
                request_id = f"{scheduler.run_id}:{task.key}:{execution.workflow_id}"
                with contextlib.suppress(NotFound, InvalidArgument):
                    if stop.terminate:
                        await self.workflows.terminate(
                            scheduler.namespace_id,
                            TerminateWorkflowExecutionRequest(
                                workflow_execution=execution,
                                reason="terminated by schedule overlap policy",
                                identity=identity,
                            ),
                        )
                    else:
                        await self.workflows.request_cancel(
                            scheduler.namespace_id,
                            RequestCancelWorkflowExecutionRequest(
                                workflow_execution=execution,
                                reason="cancelled by schedule overlap policy",
                                identity=identity,
                                request_id=request_id,
                            ),
                        )
        await self.core.update(
            scheduler.key, lambda m: schedules.stop_done(m, task.event_id), done_transfer=task.key
        )

    async def notify(self, closed: ExecutionState, task: TransferTask) -> None:
        """Tell the schedule that started `closed`'s chain that the chain has ended."""
        (close,) = await self.core.events(closed.key, closed.next_event_id - 1)
        result, failure = _outcome(close)
        with contextlib.suppress(NotFound, InvalidArgument):
            key = await self.core.resolve(
                closed.namespace_id, schedules.workflow_id_of(closed.scheduled_by), ""
            )
            await self.core.update(
                key,
                lambda m: schedules.workflow_closed(m, closed.workflow_id, closed.status, result, failure),
            )
        await self.core.delete_transfer(closed.key, task.key)


def _outcome(close: HistoryEvent) -> tuple[Payloads | None, Failure | None]:
    """The result or failure a close event carries."""
    if close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        return close.workflow_execution_completed_event_attributes.result, None
    if close.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return None, close.workflow_execution_failed_event_attributes.failure
    return None, None
