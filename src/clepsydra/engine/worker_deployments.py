"""Worker deployments: the versions of a fleet of workers, and which of them new work goes to.

A deployment is a named set of versions (one per build id); a version learns its task queues
from its workers' polls. The deployment's routing says where tasks of workflows that are not
pinned go: to the current version (none: to unversioned workers) and, for a percentage of
workflows, to a ramping version. Every change here is a pure function of the deployment as
read; the service stores it conditioned on the revision it read, which is also the conflict
token clients hold. Checks and messages are the reference's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import TaskQueueType, WorkerDeploymentVersionStatus

from clepsydra.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

UNVERSIONED = "__unversioned__"
MAX_NAME_LENGTH = 1000  # as a workflow id's: the reference keeps each deployment in one
# The reference's words for an empty name differ by RPC: reads and deletes say the first.
EMPTY_NAME = "WorkerDeploymentName cannot be empty"
EMPTY_DEPLOYMENT = "deployment name cannot be empty"

Status = WorkerDeploymentVersionStatus
CREATED = Status.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED
INACTIVE = Status.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE
CURRENT = Status.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT
RAMPING = Status.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
DRAINING = Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
DRAINED = Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED


@dataclass
class Version:
    build_id: str
    create_time: datetime
    # The queues its workers poll (`queue_key`), with when the first poll came.
    task_queues: dict[str, datetime] = field(default_factory=dict)
    # Set by CreateWorkerDeploymentVersion, before any worker of it polled.
    created_by_api: bool = False
    current_since: datetime | None = None
    ramping_since: datetime | None = None
    routing_update_time: datetime | None = None
    first_activation_time: datetime | None = None
    last_current_time: datetime | None = None
    last_deactivation_time: datetime | None = None
    last_modifier_identity: str = ""
    metadata: dict[str, Payload] = field(default_factory=dict)
    # Draining and no running workflow is pinned to it any more, as last checked (see
    # services/worker_deployments.py).
    drained: bool = False
    drainage_checked: datetime | None = None

    @property
    def status(self) -> Status.ValueType:
        if self.current_since is not None:
            return CURRENT
        if self.ramping_since is not None:
            return RAMPING
        if self.last_deactivation_time is not None:
            return DRAINED if self.drained else DRAINING
        return CREATED if self.created_by_api and not self.task_queues else INACTIVE


@dataclass
class Deployment:
    name: str
    create_time: datetime
    revision: int = 0
    versions: dict[str, Version] = field(default_factory=dict)
    # Build ids: "" current means unversioned workers; None ramping means no ramp, "" a ramp to
    # unversioned workers.
    current: str = ""
    ramping: str | None = None
    ramp_percentage: float = 0.0
    current_changed_time: datetime | None = None
    ramping_changed_time: datetime | None = None
    ramp_percentage_changed_time: datetime | None = None
    routing_revision: int = 0
    # Changes to what a conflict token guards: the routing and the manager.
    changes: int = 0
    manager_identity: str = ""
    last_modifier_identity: str = ""

    def version(self, build_id: str) -> Version:
        version = self.versions.get(build_id)
        if version is None:
            raise NotFound(f"build ID '{build_id}' not found in Worker Deployment '{self.name}'")
        return version

    def target(self, workflow_id: str) -> str:
        """The build id a task of an unpinned workflow goes to ("": unversioned workers)."""
        if self.ramping is not None and ramp_bucket(workflow_id) < self.ramp_percentage:
            return self.ramping
        return self.current


def ramp_bucket(workflow_id: str) -> float:
    """Where a workflow falls in [0, 100): the same for every task of it, so that a ramp
    sends each workflow one way."""
    return zlib.crc32(workflow_id.encode()) % 10_000 / 100


def queue_key(name: str, kind: TaskQueueType.ValueType) -> str:
    return f"{kind}:{name}"


def check_name(name: str, empty: str = EMPTY_NAME) -> None:
    if not name:
        raise InvalidArgument(empty)
    if "." in name:
        raise InvalidArgument("worker deployment name cannot contain '.'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"size of WorkerDeploymentName is larger than the maximum allowed ({MAX_NAME_LENGTH})"
        )


def check_build_id(build_id: str) -> None:
    if not build_id:
        raise InvalidArgument("build ID cannot be empty")
    if len(build_id) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"size of BuildID is larger than the maximum allowed ({MAX_NAME_LENGTH})")


def version_string(deployment: str, build_id: str) -> str:
    return f"{deployment}.{build_id}" if build_id else UNVERSIONED


def register(deployment: Deployment, build_id: str, queue: str, now: datetime) -> bool:
    """A worker of the version polled `queue` (see `queue_key`): whether that was news."""
    version = deployment.versions.get(build_id)
    if version is None:
        version = deployment.versions[build_id] = Version(build_id, now)
    if queue in version.task_queues:
        return False
    version.task_queues[queue] = now
    return True


def create_version(deployment: Deployment, build_id: str, identity: str, now: datetime) -> None:
    if build_id in deployment.versions:
        raise AlreadyExists(
            f'Worker Deployment Version "{version_string(deployment.name, build_id)}" already exists'
        )
    deployment.versions[build_id] = Version(
        build_id, now, created_by_api=True, last_modifier_identity=identity
    )


def check_manager(deployment: Deployment, identity: str) -> None:
    manager = deployment.manager_identity
    if manager and manager != identity:
        raise FailedPrecondition(
            f"ManagerIdentity '{manager}' is set and does not match user identity '{identity}'; to proceed, "
            "set your own identity as the ManagerIdentity, remove the ManagerIdentity, or wait for the "
            "other client to do so"
        )


def set_current(deployment: Deployment, build_id: str, identity: str, now: datetime) -> bool:
    """Make `build_id` ("": unversioned workers) current: whether anything changed."""
    check_manager(deployment, identity)
    if build_id:
        deployment.version(build_id)
    if build_id == deployment.current:
        return False
    previous = deployment.current
    deployment.current = build_id
    deployment.current_changed_time = now
    if deployment.ramping == build_id:  # the ramping version becomes current: the ramp ends
        _end_ramp(deployment, now)
    _left(deployment, previous, now)
    if build_id:
        version = deployment.versions[build_id]
        version.current_since = version.last_current_time = now
        _activated(version, now)
    _routing_changed(deployment, identity)
    return True


def check_percentage(percentage: float) -> None:
    if not 0 <= percentage <= 100:
        raise InvalidArgument("Percentage must be between 0 and 100 (inclusive)")


def set_ramping(
    deployment: Deployment, build_id: str | None, percentage: float, identity: str, now: datetime
) -> bool:
    """Ramp `percentage` of unpinned workflows to `build_id` ("": unversioned workers; None:
    stop ramping): whether anything changed."""
    check_manager(deployment, identity)
    check_percentage(percentage)
    if build_id is not None and build_id == deployment.current:
        raise FailedPrecondition(
            f"requested ramping version {version_string(deployment.name, build_id)} is already current"
        )
    if build_id:
        deployment.version(build_id)
    if build_id == deployment.ramping and (build_id is None or percentage == deployment.ramp_percentage):
        return False
    if build_id is None:
        _end_ramp(deployment, now)
    else:
        if build_id != deployment.ramping:
            previous = deployment.ramping
            deployment.ramping = build_id
            deployment.ramping_changed_time = now
            if previous:
                _left(deployment, previous, now)
            if build_id:
                version = deployment.versions[build_id]
                version.ramping_since = now
                _activated(version, now)
        deployment.ramp_percentage = percentage
        deployment.ramp_percentage_changed_time = now
    _routing_changed(deployment, identity)
    return True


def delete_version(deployment: Deployment, build_id: str, skip_drainage: bool, has_pollers: bool) -> bool:
    """Whether there was such a version (none is no error, as on the reference)."""
    version = deployment.versions.get(build_id)
    if version is None:
        return False
    name = f"{deployment.name}:{build_id}"
    if version.status in (CURRENT, RAMPING):
        raise FailedPrecondition(f"version '{name}' cannot be deleted since it is current or ramping")
    if version.status == DRAINING and not skip_drainage:
        raise FailedPrecondition(f"version '{name}' cannot be deleted since it is draining")
    if has_pollers:
        raise FailedPrecondition(f"version '{name}' cannot be deleted since it has active pollers")
    del deployment.versions[build_id]
    return True


def set_manager(deployment: Deployment, manager: str, identity: str) -> None:
    """Set the manager identity (anyone may: the manager is a guard against mistakes, not a
    permission)."""
    deployment.manager_identity = manager
    deployment.last_modifier_identity = identity
    deployment.changes += 1


def _end_ramp(deployment: Deployment, now: datetime) -> None:
    previous = deployment.ramping
    deployment.ramping = None
    deployment.ramp_percentage = 0.0
    deployment.ramping_changed_time = deployment.ramp_percentage_changed_time = now
    if previous:
        version = deployment.versions.get(previous)
        if version is not None:
            version.ramping_since = None
            if deployment.current != previous:
                _deactivated(version, now)


def _left(deployment: Deployment, build_id: str, now: datetime) -> None:
    """`build_id` is no longer current (or no longer ramping)."""
    version = deployment.versions.get(build_id)
    if version is None:
        return
    version.current_since = None
    if deployment.ramping != build_id:
        version.ramping_since = None
        _deactivated(version, now)


def _activated(version: Version, now: datetime) -> None:
    version.routing_update_time = now
    version.last_deactivation_time = None
    version.drained = False
    if version.first_activation_time is None:
        version.first_activation_time = now


def _deactivated(version: Version, now: datetime) -> None:
    version.routing_update_time = version.last_deactivation_time = now


def _routing_changed(deployment: Deployment, identity: str) -> None:
    deployment.routing_revision += 1
    deployment.changes += 1
    deployment.last_modifier_identity = identity
