"""Workflow updates, as the worker answers them through protocol messages.

An update is admitted in memory by the service and offered to the worker with its
next workflow task. The worker accepts it (WorkflowExecutionUpdateAccepted), then
completes it (WorkflowExecutionUpdateCompleted), or rejects it, which leaves no event.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage, WorkflowTaskFailedCause
from temporalio.api.history.v1 import (
    WorkflowExecutionUpdateAcceptedEventAttributes,
    WorkflowExecutionUpdateCompletedEventAttributes,
)
from temporalio.api.protocol.v1 import Message
from temporalio.api.update.v1 import Acceptance, Outcome, Rejection, Response

from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import UpdateInfo
from clepsydra.engine.workflow_task import CommandError

Stage = UpdateWorkflowExecutionLifecycleStage
BAD_MESSAGE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE


def apply_message(m: Mutation, message: Message) -> None:
    body = message.body
    if body.Is(Acceptance.DESCRIPTOR):
        acceptance = Acceptance()
        body.Unpack(acceptance)
        _accept(m, message.protocol_instance_id, acceptance)
    elif body.Is(Response.DESCRIPTOR):
        response = Response()
        body.Unpack(response)
        _complete(m, response)
    elif body.Is(Rejection.DESCRIPTOR):
        rejection = Rejection()
        body.Unpack(rejection)
        update_id = rejection.rejected_request.meta.update_id or message.protocol_instance_id
        m.update_outcomes.append(
            (
                update_id,
                Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
                Outcome(failure=rejection.failure),
            )
        )
    else:
        raise CommandError(BAD_MESSAGE, f"Unknown protocol message body: {body.type_url}.")


def _accept(m: Mutation, update_id: str, acceptance: Acceptance) -> None:
    update_id = acceptance.accepted_request.meta.update_id or update_id
    if update_id in m.state.updates:
        raise CommandError(BAD_MESSAGE, f"Update {update_id} was already accepted.")
    event = m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        WorkflowExecutionUpdateAcceptedEventAttributes(
            protocol_instance_id=update_id,
            accepted_request_message_id=acceptance.accepted_request_message_id,
            accepted_request_sequencing_event_id=acceptance.accepted_request_sequencing_event_id,
            accepted_request=acceptance.accepted_request,
        ),
    )
    m.state.updates[update_id] = UpdateInfo(accepted_event_id=event.event_id)
    m.update_outcomes.append((update_id, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED, None))


def _complete(m: Mutation, response: Response) -> None:
    update_id = response.meta.update_id
    info = m.state.updates.get(update_id)
    if info is None or info.outcome is not None:
        raise CommandError(BAD_MESSAGE, f"Update {update_id} is not accepted, or already completed.")
    event = m.add_event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        WorkflowExecutionUpdateCompletedEventAttributes(
            meta=response.meta, accepted_event_id=info.accepted_event_id, outcome=response.outcome
        ),
    )
    info.completed_event_id = event.event_id
    info.outcome = response.outcome
    m.update_outcomes.append(
        (update_id, Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED, response.outcome)
    )
