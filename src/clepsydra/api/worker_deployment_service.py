"""Worker deployments' RPCs (temporal.api.workflowservice.v1.WorkflowService): describe, list,
create and delete deployments and versions, and move their routing."""

from __future__ import annotations

import grpc
from temporalio.api.deployment.v1 import VersionMetadata, WorkerDeploymentVersion
from temporalio.api.workflowservice.v1 import (
    CreateWorkerDeploymentRequest,
    CreateWorkerDeploymentResponse,
    CreateWorkerDeploymentVersionRequest,
    CreateWorkerDeploymentVersionResponse,
    DeleteWorkerDeploymentRequest,
    DeleteWorkerDeploymentResponse,
    DeleteWorkerDeploymentVersionRequest,
    DeleteWorkerDeploymentVersionResponse,
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentResponse,
    DescribeWorkerDeploymentVersionRequest,
    DescribeWorkerDeploymentVersionResponse,
    ListWorkerDeploymentsRequest,
    ListWorkerDeploymentsResponse,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentCurrentVersionResponse,
    SetWorkerDeploymentManagerRequest,
    SetWorkerDeploymentManagerResponse,
    SetWorkerDeploymentRampingVersionRequest,
    SetWorkerDeploymentRampingVersionResponse,
    UpdateWorkerDeploymentVersionMetadataRequest,
    UpdateWorkerDeploymentVersionMetadataResponse,
)

from clepsydra.engine.worker_deployments import UNVERSIONED, Version, version_string
from clepsydra.errors import InvalidArgument, Unimplemented
from clepsydra.services import worker_deployment_views as views
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.page_tokens import offset_of, offset_token
from clepsydra.services.worker_deployments import WorkerDeployments

Context = grpc.aio.ServicerContext
DEFAULT_PAGE_SIZE = 1000
EMPTY_VERSION = "deployment version cannot be empty"


class WorkerDeploymentService:
    def __init__(self, namespaces: Namespaces, deployments: WorkerDeployments) -> None:
        self.namespaces = namespaces
        self.deployments = deployments

    async def DescribeWorkerDeployment(
        self, request: DescribeWorkerDeploymentRequest, context: Context
    ) -> DescribeWorkerDeploymentResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        described = await self.deployments.describe(namespace_id, request.deployment_name)
        return DescribeWorkerDeploymentResponse(
            conflict_token=described.token, worker_deployment_info=views.deployment_info(described.deployment)
        )

    async def ListWorkerDeployments(
        self, request: ListWorkerDeploymentsRequest, context: Context
    ) -> ListWorkerDeploymentsResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        deployments = await self.deployments.list(namespace_id)
        start = offset_of(request.next_page_token)
        end = start + (request.page_size if request.page_size > 0 else DEFAULT_PAGE_SIZE)
        return ListWorkerDeploymentsResponse(
            worker_deployments=[views.deployment_summary(d) for d in deployments[start:end]],
            next_page_token=offset_token(end) if end < len(deployments) else b"",
        )

    async def CreateWorkerDeployment(
        self, request: CreateWorkerDeploymentRequest, context: Context
    ) -> CreateWorkerDeploymentResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        created = await self.deployments.create(namespace_id, request.deployment_name, request.identity)
        return CreateWorkerDeploymentResponse(conflict_token=created.token)

    async def CreateWorkerDeploymentVersion(
        self, request: CreateWorkerDeploymentVersionRequest, context: Context
    ) -> CreateWorkerDeploymentVersionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        if request.HasField("compute_config"):
            # Workers that the server launches (serverless compute) need a provider to launch them.
            raise Unimplemented(
                "compute configs of Worker Deployment Versions are not supported by Clepsydra"
            )
        name, build_id = request.deployment_version.deployment_name, request.deployment_version.build_id
        await self.deployments.create_version(namespace_id, name, build_id, request.identity)
        return CreateWorkerDeploymentVersionResponse()

    async def DeleteWorkerDeployment(
        self, request: DeleteWorkerDeploymentRequest, context: Context
    ) -> DeleteWorkerDeploymentResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        await self.deployments.delete(namespace_id, request.deployment_name)
        return DeleteWorkerDeploymentResponse()

    async def DescribeWorkerDeploymentVersion(
        self, request: DescribeWorkerDeploymentVersionRequest, context: Context
    ) -> DescribeWorkerDeploymentVersionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        name, build_id = _version(request.deployment_version, request.version, EMPTY_VERSION)
        deployment, version = await self.deployments.describe_version(namespace_id, name, build_id)
        response = DescribeWorkerDeploymentVersionResponse(
            worker_deployment_version_info=views.version_info(deployment, version)
        )
        for queue_name, kind in views.task_queues(version):
            queue = response.version_task_queues.add(name=queue_name, type=kind)
            if request.report_task_queue_stats:
                queue.stats.approximate_backlog_age.SetInParent()
        return response

    async def DeleteWorkerDeploymentVersion(
        self, request: DeleteWorkerDeploymentVersionRequest, context: Context
    ) -> DeleteWorkerDeploymentVersionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        name, build_id = _version(request.deployment_version, request.version)
        await self.deployments.delete_version(namespace_id, name, build_id, request.skip_drainage)
        return DeleteWorkerDeploymentVersionResponse()

    async def SetWorkerDeploymentCurrentVersion(
        self, request: SetWorkerDeploymentCurrentVersionRequest, context: Context
    ) -> SetWorkerDeploymentCurrentVersionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        build_id = _build_id(request.deployment_name, request.build_id, request.version) or ""
        changed = await self.deployments.set_current(
            namespace_id, request.deployment_name, build_id, request.conflict_token, request.identity
        )
        response = SetWorkerDeploymentCurrentVersionResponse(conflict_token=changed.token)
        _tell_previous(response, request.deployment_name, changed.before.current)
        return response

    async def SetWorkerDeploymentRampingVersion(
        self, request: SetWorkerDeploymentRampingVersionRequest, context: Context
    ) -> SetWorkerDeploymentRampingVersionResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        build_id = _build_id(request.deployment_name, request.build_id, request.version)
        changed = await self.deployments.set_ramping(
            namespace_id,
            request.deployment_name,
            build_id,
            request.percentage,
            request.conflict_token,
            request.identity,
        )
        response = SetWorkerDeploymentRampingVersionResponse(conflict_token=changed.token)
        if changed.before.ramping is not None:
            _tell_previous(response, request.deployment_name, changed.before.ramping)
            response.previous_percentage = changed.before.ramp_percentage
        return response

    async def SetWorkerDeploymentManager(
        self, request: SetWorkerDeploymentManagerRequest, context: Context
    ) -> SetWorkerDeploymentManagerResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        manager = request.identity if request.self else request.manager_identity
        changed = await self.deployments.set_manager(
            namespace_id, request.deployment_name, manager, request.conflict_token, request.identity
        )
        return SetWorkerDeploymentManagerResponse(
            conflict_token=changed.token, previous_manager_identity=changed.before.manager_identity
        )

    async def UpdateWorkerDeploymentVersionMetadata(
        self, request: UpdateWorkerDeploymentVersionMetadataRequest, context: Context
    ) -> UpdateWorkerDeploymentVersionMetadataResponse:
        if not request.upsert_entries and not request.remove_entries:
            raise InvalidArgument("At least one of remove_entries or upsert_entries must be provided")
        namespace_id = await self.namespaces.id_of(request.namespace)
        name, build_id = _version(request.deployment_version, request.version, EMPTY_VERSION)

        def change(version: Version) -> None:
            for key, payload in request.upsert_entries.items():
                version.metadata[key] = payload
            for key in request.remove_entries:
                version.metadata.pop(key, None)

        version = await self.deployments.update_metadata(namespace_id, name, build_id, change)
        return UpdateWorkerDeploymentVersionMetadataResponse(
            metadata=VersionMetadata(entries=version.metadata)
        )


def _tell_previous(
    response: SetWorkerDeploymentCurrentVersionResponse | SetWorkerDeploymentRampingVersionResponse,
    deployment: str,
    build_id: str,
) -> None:
    """The version a routing change replaced ("": unversioned workers), in both its forms."""
    response.previous_version = version_string(deployment, build_id)
    if build_id:
        response.previous_deployment_version.CopyFrom(views.deployment_version(deployment, build_id))


def _version(
    version: WorkerDeploymentVersion, version_string: str, empty: str | None = None
) -> tuple[str, str]:
    """(deployment, build id) of a request's version, in the current or the older form
    ("<deployment>.<build id>"), checked with the reference's messages (`empty`: for none at
    all, where it has its own)."""
    if version.deployment_name or version.build_id:
        version_string = f"{version.deployment_name}.{version.build_id}"
    elif not version_string and empty is not None:
        raise InvalidArgument(empty)
    name, _, build_id = version_string.partition(".")
    if not name or not build_id:
        raise InvalidArgument(
            f'invalid version string "{version_string}", expected format is "<deployment_name>.<build_id>"'
        )
    return name, build_id


def _build_id(deployment: str, build_id: str, version: str) -> str | None:
    """The build id a routing change names ("": unversioned workers; None: none, which for a
    ramp means to stop ramping)."""
    if build_id:
        return build_id
    if version == UNVERSIONED:
        return ""
    if version:
        return version.removeprefix(f"{deployment}.")
    return None
