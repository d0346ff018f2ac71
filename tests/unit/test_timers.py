from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, StartTimerCommandAttributes
from temporalio.api.enums.v1 import CommandType

from clepsydra.engine import timers
from clepsydra.engine.fire import fire
from clepsydra.engine.tasks import TimerKind
from clepsydra.engine.workflow_task import CommandError
from tests.unit.engine_helpers import Run


def start_timer(timer_id: str, timeout: Duration) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=StartTimerCommandAttributes(
            timer_id=timer_id, start_to_fire_timeout=timeout
        ),
    )


def test_a_zero_length_timer_is_due_at_once_and_fires() -> None:
    run = Run()
    run.start_workflow_task()
    run.complete_workflow_task(start_timer("zero", Duration()), start_timer("one", Duration(seconds=1)))
    assert run.types()[-2:] == ["TIMER_STARTED", "TIMER_STARTED"]
    assert run.last is not None
    due = {t.event_id: t.fire_time for t in run.last.timer_tasks if t.kind == TimerKind.USER_TIMER}
    assert due == {5: run.now, 6: run.now + timedelta(seconds=1)}
    run.apply(fire, next(t for t in run.last.timer_tasks if t.event_id == 5))
    assert run.types()[-2:] == ["TIMER_FIRED", "WORKFLOW_TASK_SCHEDULED"]


@pytest.mark.parametrize(
    ("timeout", "reason"),
    [
        (Duration(seconds=-1), "negative duration"),
        (Duration(seconds=1, nanos=-1), "duration has seconds and nanos with different signs"),
    ],
)
def test_a_negative_timer_fails_the_task_with_the_reference_message(timeout: Duration, reason: str) -> None:
    run = Run()
    run.start_workflow_task()
    with pytest.raises(CommandError) as error:
        run.complete_workflow_task(start_timer("t", timeout))
    expected = f"An invalid StartToFireTimeout is set on StartTimerCommand: {reason}. TimerId=t"
    assert error.value.message == expected
    assert timers.pending(run.state, 5) is None
