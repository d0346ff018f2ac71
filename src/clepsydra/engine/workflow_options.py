"""UpdateWorkflowExecutionOptions: what an operator may change of a running workflow.

The priority and the versioning override (engine/versioning.py) may change. The change is
recorded as a WorkflowExecutionOptionsUpdated event that the worker may ignore: it wakes no
workflow task.
"""

from __future__ import annotations

from temporalio.api.common.v1 import Priority
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import WorkflowExecutionOptionsUpdatedEventAttributes
from temporalio.api.workflow.v1 import WorkflowExecutionOptions

from clepsydra.engine import activity_operations, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.errors import InvalidArgument, Unimplemented

_MESSAGE = "temporal.api.workflow.v1.WorkflowExecutionOptions"
_PRIORITY_PATHS = {"priority", "priority.priority_key", "priority.fairness_key", "priority.fairness_weight"}
_KNOWN_PATHS = {*_PRIORITY_PATHS, "versioning_override", "time_skipping_config"}


def current(m: Mutation) -> WorkflowExecutionOptions:
    options = WorkflowExecutionOptions()
    for name in ("priority", "versioning_override"):
        if m.state.start.HasField(name):
            getattr(options, name).CopyFrom(getattr(m.state.start, name))
    return options


def update(
    m: Mutation, requested: WorkflowExecutionOptions, paths: list[str], identity: str
) -> WorkflowExecutionOptions:
    """Apply the options `paths` name; returns the options in effect after."""
    for path in paths:
        if path not in _KNOWN_PATHS:
            raise InvalidArgument(
                f'error parsing UpdateMask: proto: invalid path "{path}" for message "{_MESSAGE}"'
            )
        if path == "time_skipping_config":
            raise Unimplemented(f"updating {path} is not supported by Clepsydra yet")
    attributes = WorkflowExecutionOptionsUpdatedEventAttributes(identity=identity)
    if "versioning_override" in paths:
        override = requested.versioning_override
        if override.ByteSize():
            m.state.start.versioning_override.CopyFrom(override)
            attributes.versioning_override.CopyFrom(override)
        else:
            m.state.start.ClearField("versioning_override")
            attributes.unset_versioning_override = True
        _follow_override(m)
    elif not m.state.start.HasField("versioning_override"):
        attributes.unset_versioning_override = True  # as the reference writes it
    priority_paths = [path for path in paths if path in _PRIORITY_PATHS]
    priority = Priority()
    priority.CopyFrom(m.state.start.priority)
    for path in priority_paths:
        if path == "priority":
            priority.CopyFrom(requested.priority)
        else:
            name = path.removeprefix("priority.")
            setattr(priority, name, getattr(requested.priority, name))
    m.state.start.priority.CopyFrom(priority)
    if priority_paths:
        attributes.priority.CopyFrom(priority)
    had_task = m.state.workflow_task is not None
    wanted = m.needs_workflow_task
    event = m.add_external_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED, attributes)
    event.worker_may_ignore = True
    if had_task == (m.state.workflow_task is not None):
        m.needs_workflow_task = wanted  # nothing the worker must see: no task just for this
    return current(m)


def _follow_override(m: Mutation) -> None:
    """Tasks that wait for a worker go where the changed override sends them now, as on the
    reference: an operator's way out for a workflow pinned to a version whose workers are gone."""
    task = m.state.workflow_task
    if task is not None and not task.started:
        workflow_task.enqueue(m, task)  # the same task, routed anew (matching replaces it)
    for info in m.state.activities.values():
        activity_operations.requeue(m, info)
