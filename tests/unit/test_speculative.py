from google.protobuf import any_pb2
from temporalio.api.protocol.v1 import Message
from temporalio.api.update.v1 import Rejection
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from clepsydra.engine import speculative, workflow
from clepsydra.engine.mutation import Mutation
from tests.unit.engine_helpers import Run


def idle_run() -> Run:
    run = Run()
    run.start_workflow_task()
    run.complete_workflow_task()
    return run


def rejection() -> Message:
    body = any_pb2.Any()
    body.Pack(Rejection())
    return Message(id="u/reject", protocol_instance_id="u", body=body)


def test_a_speculative_task_writes_nothing_until_it_is_more_than_rejections() -> None:
    run = idle_run()
    before = run.types()
    run.apply(speculative.schedule)
    assert run.types() == before
    shown = run.start_workflow_task()
    assert [e.event_id for e in shown] == [5, 6]  # the worker sees its events all the same
    task = run.state.workflow_task
    assert task is not None

    def complete(m: Mutation) -> bool:
        request = RespondWorkflowTaskCompletedRequest(messages=[rejection()])
        return speculative.drop_if_only_rejections(m, task, request)

    assert run.apply(complete) is True
    assert run.types() == before
    assert run.state.workflow_task is None and run.state.next_event_id == 5
    assert run.last is not None and [o[0] for o in run.last.update_outcomes] == ["u"]


def test_an_event_before_it_starts_writes_its_scheduled_event_first() -> None:
    run = idle_run()
    run.apply(speculative.schedule)
    run.apply(lambda m: workflow.signal(m, "s", None, "client", None, ""))
    assert run.types()[4:] == ["WORKFLOW_TASK_SCHEDULED", "WORKFLOW_EXECUTION_SIGNALED"]
    task = run.state.workflow_task
    assert task is not None and not task.speculative and task.scheduled_event_id == 5
    run.start_workflow_task()
    assert run.types()[-1] == "WORKFLOW_TASK_STARTED"
