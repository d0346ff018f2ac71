"""Worker deployments as the API shows them (describe, list), in the reference's shapes."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.deployment.v1 import (
    RoutingConfig,
    VersionDrainageInfo,
    WorkerDeploymentInfo,
    WorkerDeploymentVersion,
    WorkerDeploymentVersionInfo,
)
from temporalio.api.enums.v1 import RoutingConfigUpdateState, TaskQueueType, VersionDrainageStatus
from temporalio.api.taskqueue.v1 import TaskQueueVersioningInfo
from temporalio.api.workflowservice.v1 import ListWorkerDeploymentsResponse

from clepsydra.engine.worker_deployments import DRAINED, DRAINING, Deployment, Version, version_string

Summary = WorkerDeploymentInfo.WorkerDeploymentVersionSummary
_COMPLETED = RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED
_DRAINAGE = {
    DRAINING: VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING,
    DRAINED: VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED,
}


def deployment_info(d: Deployment) -> WorkerDeploymentInfo:
    info = WorkerDeploymentInfo(
        name=d.name,
        create_time=_time(d.create_time),
        routing_config=routing_config(d),
        last_modifier_identity=d.last_modifier_identity,
        manager_identity=d.manager_identity,
        routing_config_update_state=_COMPLETED,
    )
    info.version_summaries.extend(
        version_summary(d, v) for v in sorted(d.versions.values(), key=lambda v: v.create_time, reverse=True)
    )
    return info


def deployment_summary(d: Deployment) -> ListWorkerDeploymentsResponse.WorkerDeploymentSummary:
    summary = ListWorkerDeploymentsResponse.WorkerDeploymentSummary(
        name=d.name, create_time=_time(d.create_time), routing_config=routing_config(d)
    )
    if d.versions:
        latest = max(d.versions.values(), key=lambda v: v.create_time)
        summary.latest_version_summary.CopyFrom(version_summary(d, latest))
    if d.current in d.versions:
        summary.current_version_summary.CopyFrom(version_summary(d, d.versions[d.current]))
    if d.ramping in d.versions:
        summary.ramping_version_summary.CopyFrom(version_summary(d, d.versions[d.ramping]))
    return summary


def routing_config(d: Deployment) -> RoutingConfig:
    config = RoutingConfig(
        current_version=version_string(d.name, d.current), revision_number=d.routing_revision
    )
    if d.current:
        config.current_deployment_version.CopyFrom(deployment_version(d.name, d.current))
    if d.ramping is not None:
        config.ramping_version = version_string(d.name, d.ramping)
        config.ramping_version_percentage = d.ramp_percentage
        if d.ramping:
            config.ramping_deployment_version.CopyFrom(deployment_version(d.name, d.ramping))
    for field, value in (
        ("current_version_changed_time", d.current_changed_time),
        ("ramping_version_changed_time", d.ramping_changed_time),
        ("ramping_version_percentage_changed_time", d.ramp_percentage_changed_time),
    ):
        if value is not None:
            getattr(config, field).FromDatetime(value)
    return config


def queue_versioning_info(d: Deployment) -> TaskQueueVersioningInfo:
    """The routing of a deployment, as DescribeTaskQueue shows it for the deployment's queues."""
    routing = routing_config(d)
    info = TaskQueueVersioningInfo(
        current_version=routing.current_version,
        ramping_version=routing.ramping_version,
        ramping_version_percentage=routing.ramping_version_percentage,
    )
    for field in ("current_deployment_version", "ramping_deployment_version"):
        if routing.HasField(field):
            getattr(info, field).CopyFrom(getattr(routing, field))
    changes = [
        t for t in (d.current_changed_time, d.ramping_changed_time, d.ramp_percentage_changed_time) if t
    ]
    if changes:
        info.update_time.FromDatetime(max(changes))
    return info


def version_summary(d: Deployment, v: Version) -> Summary:
    summary = Summary()
    _describe_version(summary, d, v)
    if v.routing_update_time is not None:
        summary.routing_update_time.FromDatetime(v.routing_update_time)
    if v.status in _DRAINAGE:
        summary.drainage_status = _DRAINAGE[v.status]
    return summary


def version_info(d: Deployment, v: Version) -> WorkerDeploymentVersionInfo:
    info = WorkerDeploymentVersionInfo(last_modifier_identity=v.last_modifier_identity)
    _describe_version(info, d, v)
    if v.routing_update_time is not None:
        info.routing_changed_time.FromDatetime(v.routing_update_time)
    if d.ramping == v.build_id:
        info.ramp_percentage = d.ramp_percentage
    for name, kind in task_queues(v):
        info.task_queue_infos.add(name=name, type=kind)
    for key, payload in v.metadata.items():
        info.metadata.entries[key].CopyFrom(payload)
    return info


def task_queues(v: Version) -> list[tuple[str, TaskQueueType.ValueType]]:
    """(name, type) of the version's task queues, in the order they were first polled."""
    return [
        (name, TaskQueueType.ValueType(int(kind)))
        for kind, _, name in (
            queue.partition(":") for queue, _ in sorted(v.task_queues.items(), key=lambda q: q[1])
        )
    ]


def deployment_version(name: str, build_id: str) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(deployment_name=name, build_id=build_id)


def _describe_version(message: Summary | WorkerDeploymentVersionInfo, d: Deployment, v: Version) -> None:
    """What a version's summary and its full description both show."""
    message.version = version_string(d.name, v.build_id)
    message.status = v.status
    message.deployment_version.CopyFrom(deployment_version(d.name, v.build_id))
    message.create_time.FromDatetime(v.create_time)
    for field, value in (
        ("current_since_time", v.current_since),
        ("ramping_since_time", v.ramping_since),
        ("first_activation_time", v.first_activation_time),
        ("last_current_time", v.last_current_time),
        ("last_deactivation_time", v.last_deactivation_time),
    ):
        if value is not None:
            getattr(message, field).FromDatetime(value)
    if v.status in _DRAINAGE:
        message.drainage_info.CopyFrom(_drainage(v))


def _drainage(v: Version) -> VersionDrainageInfo:
    info = VersionDrainageInfo(status=_DRAINAGE[v.status])
    if v.last_deactivation_time is not None:
        info.last_changed_time.FromDatetime(v.last_deactivation_time)
        info.last_checked_time.FromDatetime(v.drainage_checked or v.last_deactivation_time)
    return info


def _time(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
