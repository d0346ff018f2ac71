"""Random sequences of worker, client and timer actions against the pure engine.

Whatever the order, the invariants of an execution hold: event ids are dense from 1,
at most one workflow task is outstanding, buffered events exist only while a task is
in flight, a closed run has nothing pending, and the state survives serialization.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from temporalio.api.command.v1 import (
    CancelTimerCommandAttributes,
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure

from clepsydra.engine import activity, codec, workflow, workflow_task
from clepsydra.engine.fire import fire
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import QueueKind, QueueTask, TimerTask
from clepsydra.engine.workflow_task import CommandError
from tests.unit.engine_helpers import Run, schedule_activity


class ExecutionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.run = Run()
        self.timers: list[TimerTask] = []
        self.counter = 0
        self._collect()

    def _collect(self) -> None:
        if self.run.last is not None:
            self.timers.extend(self.run.last.timer_tasks)

    def _apply(self, change, *args) -> None:  # type: ignore[no-untyped-def]
        self.run.apply(change, *args)
        self._collect()

    @property
    def state(self) -> ExecutionState:
        return self.run.state

    @precondition(lambda self: self.state.workflow_task is not None and not self.state.workflow_task.started)
    @rule()
    def start_workflow_task(self) -> None:
        self.run.start_workflow_task()
        self._collect()

    @precondition(lambda self: self.state.workflow_task is not None and self.state.workflow_task.started)
    @rule(kinds=st.lists(st.sampled_from(["activity", "timer", "cancel_timer", "complete"]), max_size=4))
    def complete_workflow_task(self, kinds: list[str]) -> None:
        commands = []
        for kind in kinds:
            self.counter += 1
            if kind == "activity":
                commands.append(
                    schedule_activity(f"a{self.counter}", start_to_close_timeout=timedelta(seconds=5))
                )
            elif kind == "timer":
                commands.append(
                    Command(
                        command_type=CommandType.COMMAND_TYPE_START_TIMER,
                        start_timer_command_attributes=StartTimerCommandAttributes(
                            timer_id=f"t{self.counter}",
                            start_to_fire_timeout=timedelta(seconds=self.counter % 7),  # zero too
                        ),
                    )
                )
            elif kind == "cancel_timer" and self.state.timers:
                commands.append(
                    Command(
                        command_type=CommandType.COMMAND_TYPE_CANCEL_TIMER,
                        cancel_timer_command_attributes=CancelTimerCommandAttributes(
                            timer_id=next(iter(self.state.timers))
                        ),
                    )
                )
            elif kind == "complete":
                commands.append(
                    Command(
                        command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
                        complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(),
                    )
                )
                break
        committed = codec.dumps(self.state)
        try:
            self.run.complete_workflow_task(*commands)
        except CommandError as error:
            # As the service does: drop the half-applied change, reload, fail the task.
            self.run.state = codec.loads(ExecutionState, committed)
            task = self.state.workflow_task
            assert task is not None
            self.run.apply(workflow_task.fail, task, error.cause, None, "worker")
        self._collect()

    @rule()
    def signal(self) -> None:
        if self.state.running:
            self._apply(lambda m: workflow.signal(m, "s", None, "client", None, ""))

    @precondition(lambda self: any(a.started for a in self.state.activities.values()))
    @rule(fail=st.booleans())
    def finish_an_activity(self, fail: bool) -> None:
        info = next(a for a in self.state.activities.values() if a.started)
        if fail:
            failure = Failure(message="boom", application_failure_info=ApplicationFailureInfo())
            self._apply(lambda m: activity.fail(m, info, failure, "worker", None))
        else:
            self._apply(lambda m: activity.complete(m, info, None, "worker"))

    @precondition(lambda self: any(not a.started for a in self.state.activities.values()))
    @rule()
    def start_an_activity(self) -> None:
        info = next(a for a in self.state.activities.values() if not a.started)
        self._apply(
            activity.record_started,
            QueueTask(QueueKind.ACTIVITY, "tq", info.scheduled_event_id, info.attempt, info.stamp),
            "worker",
            "r",
        )

    @precondition(lambda self: bool(self.timers))
    @rule(seconds=st.integers(min_value=1, max_value=12))
    def time_passes(self, seconds: int) -> None:
        self.run.advance(seconds)
        due = [t for t in self.timers if t.fire_time <= self.run.now]
        self.timers = [t for t in self.timers if t.fire_time > self.run.now]
        for timer in due:
            self._apply(fire, timer)

    @rule()
    def terminate(self) -> None:
        if self.state.running and self.counter % 5 == 4:
            self._apply(lambda m: workflow.terminate(m, "enough", None, "client"))

    @invariant()
    def event_ids_are_dense(self) -> None:
        assert [e.event_id for e in self.run.history] == list(range(1, len(self.run.history) + 1))
        assert self.state.next_event_id == len(self.run.history) + 1

    @invariant()
    def buffered_events_wait_for_a_started_task(self) -> None:
        if self.state.buffered_events:
            task = self.state.workflow_task
            assert task is not None and task.started

    @invariant()
    def a_closed_run_has_nothing_pending(self) -> None:
        if not self.state.running:
            assert self.state.workflow_task is None
            assert not self.state.activities and not self.state.timers

    @invariant()
    def state_survives_serialization(self) -> None:
        data = codec.dumps(self.state)
        assert codec.dumps(codec.loads(ExecutionState, data)) == data


TestExecution = ExecutionMachine.TestCase
TestExecution.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
