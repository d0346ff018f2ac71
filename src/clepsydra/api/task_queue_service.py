"""WorkflowService RPCs about task queues: who polls them, how much is waiting, and their
config (rate limits and fairness weights)."""

from __future__ import annotations

from datetime import timedelta

import grpc
from temporalio.api.deployment.v1 import WorkerDeploymentOptions
from temporalio.api.enums.v1 import DescribeTaskQueueMode, TaskQueueType
from temporalio.api.taskqueue.v1 import (
    PollerInfo,
    TaskIdBlock,
    TaskQueuePartitionMetadata,
    TaskQueueStats,
    TaskQueueStatus,
    TaskQueueTypeInfo,
    TaskQueueVersionInfo,
)
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeTaskQueueResponse,
    ListTaskQueuePartitionsRequest,
    ListTaskQueuePartitionsResponse,
    UpdateTaskQueueConfigRequest,
    UpdateTaskQueueConfigResponse,
)

from clepsydra.clock import Clock
from clepsydra.engine.tasks import QueueKind
from clepsydra.engine.versioning import VERSIONED
from clepsydra.engine.worker_deployments import UNVERSIONED
from clepsydra.errors import InvalidArgument
from clepsydra.matching.rate_limits import RateLimits
from clepsydra.matching.task_queues import Matching
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.task_queue_configs import TaskQueueConfigs
from clepsydra.services.worker_deployment_views import queue_versioning_info
from clepsydra.services.worker_deployments import WorkerDeployments

Context = grpc.aio.ServicerContext
# Pollers not seen for this long are no longer reported, as in the reference.
POLLER_TTL = timedelta(minutes=5)
_KINDS = {
    TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW: QueueKind.WORKFLOW,
    TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY: QueueKind.ACTIVITY,
    TaskQueueType.TASK_QUEUE_TYPE_NEXUS: QueueKind.NEXUS,
}
# The types an enhanced describe reports when the request names none, as the reference.
_DEFAULT_TYPES = [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]
# The dispatch rate limit of a queue whose workers set none, and the size of the blocks of
# task ids a queue takes, as the reference reports them.
DEFAULT_DISPATCH_RATE = 4000.0
TASK_ID_BLOCK = 100_000


class TaskQueueService:
    def __init__(
        self,
        namespaces: Namespaces,
        matching: Matching,
        clock: Clock,
        address: str,
        configs: TaskQueueConfigs,
        limits: RateLimits,
        deployments: WorkerDeployments,
    ) -> None:
        self.namespaces = namespaces
        self.deployments = deployments
        self.matching = matching
        self.clock = clock
        self.address = address
        self.configs = configs
        self.limits = limits

    async def DescribeTaskQueue(
        self, request: DescribeTaskQueueRequest, context: Context
    ) -> DescribeTaskQueueResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        name = request.task_queue.name
        if not name:
            raise InvalidArgument("taskQueue is not set")
        if request.api_mode == DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED:
            types = list(request.task_queue_types) or _DEFAULT_TYPES
            info = TaskQueueVersionInfo()
            for queue_type in types:
                kind = _KINDS.get(queue_type)
                if kind is None:
                    continue
                type_info = TaskQueueTypeInfo()
                if request.report_pollers:
                    type_info.pollers.extend(self._pollers(namespace_id, name, kind))
                if request.report_stats:
                    type_info.stats.CopyFrom(self._stats(namespace_id, name, kind))
                info.types_info[queue_type].CopyFrom(type_info)
            return DescribeTaskQueueResponse(versions_info={"": info})
        kind = _KINDS.get(request.task_queue_type, QueueKind.WORKFLOW)
        response = DescribeTaskQueueResponse(pollers=self._pollers(namespace_id, name, kind))
        deployment = self.deployments.owner_of(namespace_id, name, kind)
        if deployment is None:
            response.versioning_info.current_version = UNVERSIONED
            response.versioning_info.update_time.FromSeconds(-62135596800)  # Go's zero time, as the reference
        else:
            response.versioning_info.CopyFrom(queue_versioning_info(deployment))
        if request.report_stats:
            response.stats.CopyFrom(self._stats(namespace_id, name, kind))
        if request.include_task_queue_status:
            response.task_queue_status.CopyFrom(self._status(namespace_id, name, kind))
        if request.report_config:
            config = await self.configs.get(namespace_id, name, request.task_queue_type)
            if config is not None:
                response.config.CopyFrom(config)
        rate, source = self.limits.effective(namespace_id, name, kind)
        response.effective_rate_limit.requests_per_second = rate
        response.effective_rate_limit.rate_limit_source = source
        return response

    async def UpdateTaskQueueConfig(
        self, request: UpdateTaskQueueConfigRequest, context: Context
    ) -> UpdateTaskQueueConfigResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        return UpdateTaskQueueConfigResponse(config=await self.configs.update(namespace_id, request))

    async def ListTaskQueuePartitions(
        self, request: ListTaskQueuePartitionsRequest, context: Context
    ) -> ListTaskQueuePartitionsResponse:
        await self.namespaces.id_of(request.namespace)
        if not request.task_queue.name:
            raise InvalidArgument("taskQueue is not set")
        # One process, one partition per queue.
        partition = [TaskQueuePartitionMetadata(key=request.task_queue.name, owner_host_name=self.address)]
        return ListTaskQueuePartitionsResponse(
            activity_task_queue_partitions=partition, workflow_task_queue_partitions=partition
        )

    def _pollers(self, namespace_id: str, name: str, kind: QueueKind) -> list[PollerInfo]:
        seen_since = self.clock.now() - POLLER_TTL
        queue = self.matching.queue(namespace_id, name, kind)
        pollers = []
        for identity, last_access in sorted(queue.pollers.items(), key=lambda p: p[1], reverse=True):
            if last_access < seen_since:
                continue
            rate = self.limits.poller_rate(namespace_id, name, kind, identity)
            poller = PollerInfo(identity=identity, rate_per_second=rate)
            poller.last_access_time.FromDatetime(last_access)
            version = queue.poller_versions.get(identity)
            if version is not None:
                name, _, build_id = version.partition(".")
                poller.deployment_options.CopyFrom(
                    WorkerDeploymentOptions(
                        deployment_name=name, build_id=build_id, worker_versioning_mode=VERSIONED
                    )
                )
            pollers.append(poller)
        return pollers

    def _stats(self, namespace_id: str, name: str, kind: QueueKind) -> TaskQueueStats:
        queue = self.matching.queue(namespace_id, name, kind)
        stats = TaskQueueStats(
            approximate_backlog_count=len(queue.backlog),
            tasks_add_rate=queue.added.per_second(),
            tasks_dispatch_rate=queue.dispatched.per_second(),
        )
        stats.approximate_backlog_age.FromTimedelta(
            timedelta(seconds=self.matching.backlog_age(namespace_id, name, kind))
        )
        return stats

    def _status(self, namespace_id: str, name: str, kind: QueueKind) -> TaskQueueStatus:
        """The legacy status (the CLI's `task-queue describe --legacy-mode` reads it): task
        numbers count the tasks added to the queue and handed out, in blocks of ids as the
        reference leases them."""
        queue = self.matching.queue(namespace_id, name, kind)
        first_id = queue.added.total // TASK_ID_BLOCK * TASK_ID_BLOCK + 1
        return TaskQueueStatus(
            backlog_count_hint=len(queue.backlog),
            read_level=queue.added.total,
            ack_level=queue.dispatched.total,
            rate_per_second=DEFAULT_DISPATCH_RATE,
            task_id_block=TaskIdBlock(start_id=first_id, end_id=first_id + TASK_ID_BLOCK - 1),
        )
