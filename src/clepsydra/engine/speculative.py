"""Speculative workflow tasks: how an update reaches an idle workflow without a trace when it
is rejected, as on the reference server.

An update admitted while the workflow has no workflow task gets a task of its own that writes
nothing when scheduled or started (like a transient attempt, its events are shown to the
worker only). If the worker only rejects updates and nothing else happened meanwhile, the
task is dropped and history is as it was. Anything else makes it a normal task with its
events written where they belong: a worker that accepts an update or sends commands
completes it as usual; an event that arrives first (a signal, a cancel request) has the
Scheduled event written before it (`workflow_task.make_real`); one that arrives while a
worker holds it waits in the buffer, and the task is written when it ends.
"""

from __future__ import annotations

from temporalio.api.update.v1 import Rejection
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from clepsydra.engine import updates, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import WorkflowTaskInfo


def schedule(m: Mutation) -> None:
    """A task to carry updates, unless one is outstanding (they ride on it then)."""
    workflow_task.schedule(m, speculative=True)


def drop_if_only_rejections(
    m: Mutation, task: WorkflowTaskInfo, request: RespondWorkflowTaskCompletedRequest
) -> bool:
    """Complete a speculative task that only rejected updates by forgetting it; False (and
    nothing done) if it must be written."""
    if (
        not task.speculative
        or request.commands
        or request.force_create_new_workflow_task
        or m.state.buffered_events
        or not all(message.body.Is(Rejection.DESCRIPTOR) for message in request.messages)
    ):
        return False
    for message in request.messages:
        updates.apply_message(m, message)  # the callers hear their rejections
    m.state.workflow_task = None
    m.touch()
    return True
