"""Tasks started by the very change that queues them, for a worker known to be ready to
take them: a poll already waiting, the worker completing the last workflow task, the
caller of an eager start. Such a task never reaches its queue."""

from __future__ import annotations

from typing import Any

from clepsydra.engine import activity, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.tasks import QueueKind, QueueTask


def start_queued(m: Mutation, task: QueueTask, identity: str, request_id: str) -> Any:
    """Record started a task this change queued; what recording it returned (a workflow
    task's transient events, an activity's info). NOT_FOUND, and still queued, if it
    cannot start."""
    record = workflow_task.record_started if task.kind == QueueKind.WORKFLOW else activity.record_started
    outcome = record(m, task, identity, request_id)
    m.queue_tasks.remove(task)
    return outcome


def queued_workflow_task(m: Mutation, sticky_only: bool = False) -> QueueTask | None:
    """The workflow task this change queued, if any (only if on a sticky queue, if asked)."""
    for task in m.queue_tasks:
        if task.kind == QueueKind.WORKFLOW and not (sticky_only and task.task_queue == m.state.task_queue):
            return task
    return None
