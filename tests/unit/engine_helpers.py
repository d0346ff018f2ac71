"""Drive the pure engine directly: a fake clock and compact history assertions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)

from clepsydra.engine import commands, start, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import QueueKind, QueueTask

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Run:
    """One execution, its full history, and a clock the test moves."""

    def __init__(self, **options: object) -> None:
        self.now = T0
        request = StartWorkflowExecutionRequest(
            workflow_id="wf",
            workflow_type=WorkflowType(name="Flow"),
            task_queue=TaskQueue(name="tq"),
            request_id="r1",
            **options,  # type: ignore[arg-type]
        )
        attributes = start.attributes_from_request(request, "run", T0)
        self.state: ExecutionState = start.new_execution("ns-id", "ns", attributes, "run", "run", T0, "r1")
        self.history: list[HistoryEvent] = []
        self.last: Mutation | None = None
        self.apply(start.begin)

    def apply(self, change, *args):  # type: ignore[no-untyped-def]
        m = Mutation(self.state, self.now, lambda: f"run-{len(self.history)}")
        result = change(m, *args)
        workflow_task.schedule_if_needed(m)
        self.history.extend(m.events)
        self.last = m
        return result

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def types(self) -> list[str]:
        return [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in self.history]

    def start_workflow_task(self) -> list[HistoryEvent]:
        task = self.state.workflow_task
        assert task is not None
        return self.apply(
            workflow_task.record_started,
            QueueTask(QueueKind.WORKFLOW, task.task_queue, task.scheduled_event_id, task.attempt),
            "worker",
            "req",
        )

    def complete_workflow_task(self, *cmds: Command) -> None:
        task = self.state.workflow_task
        assert task is not None and task.started

        def change(m: Mutation) -> None:
            completed = workflow_task.complete(m, task, RespondWorkflowTaskCompletedRequest())
            commands.apply(m, completed, list(cmds), "worker")
            workflow_task.finish_completion(m, False)

        self.apply(change)


def schedule_activity(activity_id: str = "1", **timeouts: timedelta) -> Command:
    attributes = ScheduleActivityTaskCommandAttributes(
        activity_id=activity_id, activity_type=ActivityType(name="act")
    )
    for name, value in timeouts.items():
        getattr(attributes, name).FromTimedelta(value)
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=attributes,
    )
