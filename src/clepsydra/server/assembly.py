"""The one place where a server's objects are built and connected.

Layers, from the bottom: the store; the update path (`history`) with the task queues
(`matching`) and, on a shared database, this process's share of the shards (`cluster`);
the services built on the update path; the RPC handlers (`api`) and their tables, which
gRPC, the cluster's forwarding and the HTTP API all serve. Every object gets what it
needs in its constructor; the few callbacks that close a loop (timers and transfers call
back into the update path) are handed over when their loops start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2

from clepsydra.api.activity_service import ActivityService
from clepsydra.api.batch_service import BatchService
from clepsydra.api.deletion_service import DeletionService
from clepsydra.api.deprecated_versioning_service import DeprecatedVersioningService
from clepsydra.api.namespace_service import NamespaceService
from clepsydra.api.nexus_endpoint_service import NexusEndpointService
from clepsydra.api.nexus_service import NexusService
from clepsydra.api.operator_service import OperatorService
from clepsydra.api.rpc_table import RpcTable, rpc_table
from clepsydra.api.schedule_service import ScheduleService
from clepsydra.api.standalone_activity_service import StandaloneActivityService
from clepsydra.api.standalone_nexus_service import StandaloneNexusService
from clepsydra.api.task_queue_service import TaskQueueService
from clepsydra.api.visibility_service import VisibilityService
from clepsydra.api.worker_deployment_service import WorkerDeploymentService
from clepsydra.api.worker_registry_service import WorkerRegistryService
from clepsydra.api.worker_service import WorkerService
from clepsydra.api.workflow_service import WorkflowService
from clepsydra.batch.jobs import BatchJobs
from clepsydra.batch.operations import BatchOperations
from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.cleanup.reclaim import NamespaceReclaimer
from clepsydra.cleanup.retention import RetentionSweeper
from clepsydra.clock import Clock, SkippingClock
from clepsydra.cluster.membership import SharedMembership
from clepsydra.cluster.node import Cluster
from clepsydra.cluster.peers import Peers
from clepsydra.history.core import HistoryCore
from clepsydra.history.ownership import Ownership, SingleOwner
from clepsydra.history.timer_queue import WINDOW, TimerQueue
from clepsydra.history.transfer_queue import TransferQueue
from clepsydra.matching.rate_limits import RateLimits
from clepsydra.matching.task_queues import Matching
from clepsydra.server.jobs import LeaderJobs
from clepsydra.services.activity_operations import ActivityOperations
from clepsydra.services.completions import Completions
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.nexus_callbacks import NexusCallbacks
from clepsydra.services.nexus_calls import NexusCalls
from clepsydra.services.nexus_endpoints import NexusEndpoints
from clepsydra.services.nexus_inbound import NexusInbound
from clepsydra.services.nexus_tasks import NexusTasks
from clepsydra.services.polls import Polls
from clepsydra.services.queries import Queries
from clepsydra.services.reads import HistoryReader
from clepsydra.services.schedules import Schedules
from clepsydra.services.search_attributes import SearchAttributeRegistry
from clepsydra.services.standalone_activities import StandaloneActivities
from clepsydra.services.standalone_nexus import StandaloneNexusOperations
from clepsydra.services.task_queue_configs import TaskQueueConfigs
from clepsydra.services.task_responses import TaskResponses
from clepsydra.services.time_skipping import WorkTracker
from clepsydra.services.tokens import Tokens
from clepsydra.services.transfers import TransferActions
from clepsydra.services.updates import Updates
from clepsydra.services.visibility import Visibility
from clepsydra.services.worker_deployments import WorkerDeployments
from clepsydra.services.workers import WorkerRegistry
from clepsydra.services.workflows import Workflows
from clepsydra.store.base import Store
from clepsydra.store.nexus_endpoints import endpoint_store
from clepsydra.store.task_queue_configs import config_store
from clepsydra.store.worker_deployments import deployment_store

if TYPE_CHECKING:
    from clepsydra.server.metrics import Metrics
    from clepsydra.store.postgres import PostgresStore

WORKFLOW_SERVICE = workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"]
OPERATOR_SERVICE = operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"]
SERVICES: tuple[ServiceDescriptor, ...] = (WORKFLOW_SERVICE, OPERATOR_SERVICE)


@dataclass
class Assembly:
    """A server's parts, built and connected, not yet started."""

    core: HistoryCore
    matching: Matching
    timers: TimerQueue
    transfers: TransferQueue
    transfer_actions: TransferActions
    namespaces: Namespaces
    search_attributes: SearchAttributeRegistry
    jobs: LeaderJobs
    # Service full name → its RPC table, as gRPC and the HTTP API serve it.
    tables: dict[str, RpcTable]
    task_queue_configs: TaskQueueConfigs
    cluster: Cluster | None
    # A time-skipping server's view of what is busy (None for a server on the real clock).
    work: WorkTracker | None
    worker_deployments: WorkerDeployments
    # Nexus requests that arrive over HTTP, at an endpoint's URL.
    nexus_inbound: NexusInbound | None = None


def assemble(
    store: Store,
    clock: Clock,
    address: str,
    persistence_store: str,
    retention_interval: float,
    token_secret: bytes,
    metrics: Metrics | None = None,
    peer_credentials: grpc.ChannelCredentials | None = None,
    cache_bytes: int | None = None,
) -> Assembly:
    """Every object of a server on an open `store`. `address`: where this process serves
    (and where the others on a shared database reach it). `token_secret`: the store's key
    for task tokens. `metrics`: to count and time the update path's writes, if the server
    has metrics. `peer_credentials`: TLS towards the other processes on a shared database."""
    skipping = isinstance(clock, SkippingClock)
    work = WorkTracker(clock) if isinstance(clock, SkippingClock) else None
    # Time skipping waits for transfers too: it looks again when the last one is done.
    idle = clock.changed if isinstance(clock, SkippingClock) else None
    matching = Matching()
    rate_limits = RateLimits(matching)
    membership = _membership(store, address)
    ownership: Ownership = membership or SingleOwner()
    # A time-skipping server keeps every timer in memory, to see the next one to skip to.
    timers = TimerQueue(clock, None if skipping else WINDOW, work.timer_is_live if work else None)
    transfers = TransferQueue(on_idle=idle)
    writes = store if metrics is None else metrics.timed_commits(store)
    core = HistoryCore(writes, clock, matching, timers, transfers, ownership, cache_bytes)

    namespaces = Namespaces(store)
    search_attributes = SearchAttributeRegistry(store, namespaces)
    updates = Updates(core)
    core.subscribe(updates)
    if work is not None:
        core.subscribe(work)
    if metrics is not None:
        core.subscribe(metrics)
    tokens = Tokens(token_secret, namespaces)
    queries = Queries(core, matching, address, tokens)
    responses = TaskResponses(core, updates, tokens)
    visibility = Visibility(store, namespaces, search_attributes)
    deployments = WorkerDeployments(
        deployment_store(store),
        matching,
        clock,
        core.sticky_worker_gone,
        visibility.count_in,
        5.0 if store.shared else None,
    )
    workflows = Workflows(
        core, clock, search_attributes.validate, responses.started_workflow_task, deployments.check_pinned
    )
    polls = Polls(core, matching, clock, queries, responses, deployments)
    task_queue_configs = TaskQueueConfigs(config_store(store), rate_limits, clock)
    nexus_endpoints = NexusEndpoints(endpoint_store(store), namespaces, clock, 10.0 if store.shared else None)
    nexus_tasks = NexusTasks(matching, clock, address)
    nexus_calls = NexusCalls(core, nexus_tasks, nexus_endpoints, clock)
    nexus_callbacks = NexusCallbacks(core)
    completions = Completions(core, responses, tokens, search_attributes.validate, nexus_endpoints.ids)
    schedules = Schedules(core, clock, visibility, search_attributes.validate)

    deleter = RunDeleter(core)
    activity_operations = ActivityOperations(core)
    workers = WorkerRegistry()
    standalone_activities = StandaloneActivities(core, clock, search_attributes.validate)
    reclaimer = NamespaceReclaimer(store, namespaces, deleter)
    batches = BatchJobs(
        store,
        namespaces,
        search_attributes,
        BatchOperations(workflows, deleter, activity_operations, standalone_activities, core),
        clock,
    )
    jobs = LeaderJobs(
        store, RetentionSweeper(store, namespaces, deleter, clock, retention_interval), reclaimer, batches
    )

    cluster = None
    peers = None
    if membership is not None:
        peers = Peers(peer_credentials)
        cluster = Cluster(_shared(store), membership, core, matching, namespaces, peers)
    workflow_service = rpc_table(
        WORKFLOW_SERVICE,
        [
            WorkflowService(namespaces, workflows, HistoryReader(core), queries, updates, persistence_store),
            WorkerService(namespaces, polls, completions, workers, peers, rate_limits),
            WorkerRegistryService(namespaces, workers),
            WorkerDeploymentService(namespaces, deployments),
            DeprecatedVersioningService(),
            NamespaceService(namespaces),
            VisibilityService(visibility),
            ScheduleService(namespaces, schedules),
            ActivityService(namespaces, activity_operations),
            StandaloneActivityService(namespaces, standalone_activities, visibility, deleter),
            StandaloneNexusService(
                namespaces,
                StandaloneNexusOperations(core, clock, nexus_endpoints, search_attributes.validate),
                visibility,
                deleter,
            ),
            TaskQueueService(
                namespaces, matching, clock, address, task_queue_configs, rate_limits, deployments
            ),
            DeletionService(namespaces, core, deleter),
            BatchService(batches),
            NexusService(namespaces, nexus_tasks, peers),
        ],
    )
    if cluster is not None:
        workflow_service = cluster.router.wrap(WORKFLOW_SERVICE, workflow_service)
    operator_service = rpc_table(
        OPERATOR_SERVICE,
        [
            OperatorService(namespaces, search_attributes, reclaimer, address),
            NexusEndpointService(nexus_endpoints),
        ],
    )
    return Assembly(
        core=core,
        matching=matching,
        timers=timers,
        transfers=transfers,
        transfer_actions=TransferActions(core, workflows, nexus_calls, nexus_callbacks),
        namespaces=namespaces,
        search_attributes=search_attributes,
        jobs=jobs,
        tables={WORKFLOW_SERVICE.full_name: workflow_service, OPERATOR_SERVICE.full_name: operator_service},
        task_queue_configs=task_queue_configs,
        cluster=cluster,
        work=work,
        nexus_inbound=NexusInbound(nexus_endpoints, nexus_tasks, nexus_calls, nexus_callbacks),
        worker_deployments=deployments,
    )


def _membership(store: Store, address: str) -> SharedMembership | None:
    """This process's share of the shards, on a database that several processes share."""
    if not store.shared:
        return None
    shared = _shared(store)
    assert shared.leases is not None, "a shared store is opened as a member"
    return SharedMembership(shared.leases, shared.shard_count, address)


def _shared(store: Store) -> PostgresStore:
    from clepsydra.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return store
