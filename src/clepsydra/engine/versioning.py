"""A workflow's worker version: which version's workers may run its tasks.

A workflow whose last workflow task was completed by a versioned worker takes that worker's
versioning behaviour: PINNED keeps every later task on that version; AUTO_UPGRADE lets each
task go to whatever version its deployment routes new work to. An operator's override (at
start, or through UpdateWorkflowExecutionOptions) wins over both. What this decides is the
version a task is pinned to (`pinned`), carried by its queue task for matching to honour.
"""

from __future__ import annotations

import json

from temporalio.api.common.v1 import Payload
from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import VersioningBehavior, WorkerVersioningMode
from temporalio.api.history.v1 import (
    WorkflowExecutionStartedEventAttributes,
    WorkflowTaskCompletedEventAttributes,
)
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionVersioningInfo
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState

PINNED = VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
VERSIONED = WorkerVersioningMode.WORKER_VERSIONING_MODE_VERSIONED


def version_key(version: WorkerDeploymentVersion) -> str:
    """How matching names a version: "<deployment>.<build id>"."""
    return f"{version.deployment_name}.{version.build_id}"


def pinned(s: ExecutionState) -> str:
    """The version (`version_key`) the workflow's tasks must run on; "" if not pinned."""
    version = pinned_version(s)
    return "" if version is None else version_key(version)


def pinned_version(s: ExecutionState) -> WorkerDeploymentVersion | None:
    """An override wins; else the behaviour of the last completed workflow task; else, before
    any, the version inherited from the run that started this one."""
    override = s.start.versioning_override
    if override.ByteSize():
        return overridden(override)
    info = s.versioning
    if info is not None and info.behavior:
        return info.deployment_version if info.behavior == PINNED else None
    if s.start.HasField("inherited_pinned_version"):
        return s.start.inherited_pinned_version
    return None


def inherit(s: ExecutionState, start: WorkflowExecutionStartedEventAttributes, upgrade: bool = False) -> None:
    """A run that `s` starts (its next run, or a child) on the same task queue runs on the
    version `s` is pinned to, as on the reference, unless it was asked to `upgrade`."""
    start.ClearField("inherited_pinned_version")
    version = pinned_version(s)
    if version is not None and not upgrade and start.task_queue.name == s.task_queue:
        start.inherited_pinned_version.CopyFrom(version)


def overridden(override: VersioningOverride) -> WorkerDeploymentVersion | None:
    """The version an override sends the workflow's tasks to; None for an auto-upgrade
    override. A one-time override does so until a task completes there (`record_completion`)."""
    if override.HasField("pinned"):
        return override.pinned.version
    if override.HasField("one_time"):
        return override.one_time.target_deployment_version
    if override.behavior == PINNED:  # the older form of the override: "<deployment>.<build id>"
        name, _, build_id = override.pinned_version.partition(".")
        return WorkerDeploymentVersion(deployment_name=name, build_id=build_id)
    return None


def record_completion(
    m: Mutation, request: RespondWorkflowTaskCompletedRequest, event: WorkflowTaskCompletedEventAttributes
) -> None:
    """A workflow task completed: the workflow takes the completing worker's version and
    behaviour (an unversioned worker leaves it unversioned), as the event records."""
    s = m.state
    before = None if s.versioning is None else s.versioning.SerializeToString()
    _take_version(s, request, event)
    one_time = s.start.versioning_override.one_time
    completed_on = "" if s.versioning is None else s.versioning.version
    if (
        s.start.versioning_override.HasField("one_time")
        and version_key(one_time.target_deployment_version) == completed_on
    ):
        s.start.ClearField("versioning_override")  # used: a task has completed there
    if (None if s.versioning is None else s.versioning.SerializeToString()) != before:
        m.visibility_changed = True  # lists filter by version and behaviour (`search_attributes`)


def search_attributes(s: ExecutionState) -> dict[str, Payload]:
    """What visibility records of the workflow's versioning, as the reference names it."""
    info = s.versioning
    if info is None or not info.behavior:
        return {}
    version = info.deployment_version
    return {
        "TemporalWorkerDeployment": _keyword(version.deployment_name),
        "TemporalWorkerDeploymentVersion": _keyword(f"{version.deployment_name}:{version.build_id}"),
        "TemporalWorkflowVersioningBehavior": _keyword(
            "Pinned" if info.behavior == PINNED else "AutoUpgrade"
        ),
    }


def _keyword(value: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "type": b"Keyword"}, data=json.dumps(value).encode())


def _take_version(
    s: ExecutionState,
    request: RespondWorkflowTaskCompletedRequest,
    event: WorkflowTaskCompletedEventAttributes,
) -> None:
    options = request.deployment_options
    if options.worker_versioning_mode != VERSIONED:
        if s.versioning is not None:
            s.versioning.ClearField("behavior")
            s.versioning.ClearField("deployment_version")
            s.versioning.ClearField("version")
        return
    version = WorkerDeploymentVersion(deployment_name=options.deployment_name, build_id=options.build_id)
    event.versioning_behavior = request.versioning_behavior
    event.worker_deployment_name = options.deployment_name
    event.deployment_version.CopyFrom(version)
    if s.versioning is None:
        s.versioning = WorkflowExecutionVersioningInfo()
    s.versioning.behavior = request.versioning_behavior
    s.versioning.deployment_version.CopyFrom(version)
    s.versioning.version = version_key(version)


def info(s: ExecutionState) -> WorkflowExecutionVersioningInfo | None:
    """What describe shows: behaviour, version and override; None for an unversioned workflow."""
    override = s.start.versioning_override
    if s.versioning is None and override.ByteSize() == 0:
        return None
    shown = WorkflowExecutionVersioningInfo()
    if s.versioning is not None:
        shown.CopyFrom(s.versioning)
    if override.ByteSize():
        shown.versioning_override.CopyFrom(override)
    return shown
