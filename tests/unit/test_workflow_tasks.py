from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import WorkflowTaskFailedCause

from clepsydra.engine import workflow, workflow_task
from clepsydra.engine.fire import fire
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.tasks import TimerKind, TimerTask
from tests.unit.engine_helpers import Run


def signal(m: Mutation, name: str = "s") -> None:
    workflow.signal(m, name, None, "client", None, "")


def test_a_new_run_schedules_its_first_workflow_task() -> None:
    run = Run()
    assert run.types() == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_SCHEDULED"]
    assert run.state.workflow_task is not None
    assert run.last is not None and [t.scheduled_event_id for t in run.last.queue_tasks] == [2]


def test_signals_during_a_started_task_are_buffered_then_appended_after_it() -> None:
    run = Run()
    run.start_workflow_task()
    run.apply(signal)
    assert run.types()[-1] == "WORKFLOW_TASK_STARTED"
    run.complete_workflow_task()
    assert run.types()[3:] == [
        "WORKFLOW_TASK_COMPLETED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    assert [e.event_id for e in run.history] == list(range(1, 7))


def test_a_timed_out_task_is_retried_transiently_and_written_when_it_completes() -> None:
    run = Run()
    run.start_workflow_task()
    run.advance(10)
    run.apply(workflow_task.time_out, 2, 1)
    assert run.types()[-1] == "WORKFLOW_TASK_TIMED_OUT"
    retry = run.state.workflow_task
    assert retry is not None and retry.attempt == 2 and retry.transient

    run.start_workflow_task()
    run.advance(10)
    run.apply(workflow_task.time_out, 5, 2)  # the transient attempt times out: nothing written
    assert len(run.history) == 4

    transient = run.start_workflow_task()
    assert [e.event_id for e in transient] == [5, 6]
    run.complete_workflow_task()
    assert run.types()[4:] == [
        "WORKFLOW_TASK_SCHEDULED",
        "WORKFLOW_TASK_STARTED",
        "WORKFLOW_TASK_COMPLETED",
    ]
    assert run.history[4].workflow_task_scheduled_event_attributes.attempt == 3


def test_a_stale_timeout_changes_nothing() -> None:
    run = Run()
    run.start_workflow_task()
    run.complete_workflow_task()
    before = len(run.history)
    run.apply(fire, TimerTask(TimerKind.WORKFLOW_TASK_TIMEOUT, run.now, 2, 1))
    assert len(run.history) == before
    assert run.last is not None and not run.last.has_writes


def test_closing_while_events_are_buffered_fails_the_task() -> None:
    run = Run()
    run.start_workflow_task()
    run.apply(signal)
    task = run.state.workflow_task
    assert task is not None
    run.apply(
        workflow_task.fail,
        task,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
        None,
        "worker",
    )
    assert run.types()[3:] == [
        "WORKFLOW_TASK_FAILED",
        "WORKFLOW_EXECUTION_SIGNALED",
        "WORKFLOW_TASK_SCHEDULED",
    ]
    # New events: the next task starts over at attempt 1 and is written at once.
    assert run.history[-1].workflow_task_scheduled_event_attributes.attempt == 1


def test_start_delay_holds_back_the_first_task_and_signals() -> None:
    run = Run(workflow_start_delay=timedelta(seconds=30))
    assert run.types() == ["WORKFLOW_EXECUTION_STARTED"]
    run.apply(signal)
    assert run.types() == ["WORKFLOW_EXECUTION_STARTED", "WORKFLOW_EXECUTION_SIGNALED"]
    run.advance(30)
    run.apply(fire, TimerTask(TimerKind.WORKFLOW_START_BACKOFF, run.now))
    assert run.types()[-1] == "WORKFLOW_TASK_SCHEDULED"


def test_signals_beyond_the_per_execution_limit_are_refused() -> None:
    from clepsydra.engine import dynamic_config
    from clepsydra.errors import InvalidArgument

    run = Run()
    run.state.signals_received = dynamic_config.current().signals_per_execution_limit - 1
    run.apply(signal)
    with pytest.raises(InvalidArgument, match="limit for signal events"):
        run.apply(signal)
