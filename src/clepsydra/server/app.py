"""Assemble the store, the services and the gRPC server into one running process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2

from clepsydra.api.grpc_handlers import generic_handler
from clepsydra.api.test_service import time_skipping_handler
from clepsydra.api.workflow_service import WorkflowService
from clepsydra.clock import Clock, SkippingClock, SystemClock
from clepsydra.cluster.node import Cluster
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import Matching
from clepsydra.server.admin import OPERATOR_SERVICE, Administration
from clepsydra.server.frontends import WebConfig, WebFrontends
from clepsydra.services.namespaces import DEFAULT_NAMESPACE, Namespaces
from clepsydra.services.queries import Queries
from clepsydra.services.reads import HistoryReader
from clepsydra.services.transfers import TransferActions
from clepsydra.services.updates import Updates
from clepsydra.services.worker_tasks import WorkerTasks
from clepsydra.services.workflows import Workflows
from clepsydra.store import factory
from clepsydra.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
WORKFLOW_SERVICE = workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"]
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
LEADER_CHECK_SECONDS = 1.0


@dataclass
class ServerConfig:
    ip: str = "127.0.0.1"
    port: int = 7233
    db_filename: str | None = None
    # A database URL (postgresql://..., sqlite:///...); when set, it wins over db_filename and the
    # schema must have been migrated (`clepsydra db migrate`).
    db_url: str | None = None
    namespaces: list[str] = field(default_factory=list)
    # Custom search attributes to register in every namespace at start: name → type name.
    search_attributes: dict[str, str] = field(default_factory=dict)
    # The HTTP/JSON API and the web UI; off unless ports are given.
    web: WebConfig = field(default_factory=WebConfig)
    # host:port at which the other processes on a shared database reach this one; default
    # ip:port (or this host's name:port when serving on every interface).
    advertise_address: str | None = None


class Server:
    """A running Clepsydra: `await start()`, then `await stop()`."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store = (
            factory.open_store(factory.parse(config.db_url))
            if config.db_url
            else SqliteStore(config.db_filename)
        )
        self.matching = Matching()
        self.core = HistoryCore(self.store, self.clock, self.matching)
        self.namespaces = Namespaces(self.store)
        self.admin = Administration(
            self.core, self.namespaces, self.matching, self.clock, lambda: self.address
        )
        self._grpc: grpc.aio.Server | None = None
        self._timer_loop: asyncio.Task[None] | None = None
        self._cluster: Cluster | None = None
        self._leading: asyncio.Task[None] | None = None
        self.web = WebFrontends(config.web, config.ip)
        # Service full name → the objects serving its RPCs, first match wins (gRPC and HTTP alike).
        self.implementations: dict[str, list[object]] = {}
        self.port = config.port

    async def start(self) -> None:
        await self.store.open()
        for name in [DEFAULT_NAMESPACE, *self.config.namespaces]:
            await self.namespaces.ensure(name)
        workflows = Workflows(self.core, self.admin.registry.validate)
        queries = Queries(self.core)
        updates = Updates(self.core)
        self.core.transfers.bind(TransferActions(self.core, workflows).execute)
        for name in [DEFAULT_NAMESPACE, *self.config.namespaces]:  # as `temporal server start-dev` does
            await self.admin.register_search_attributes(name, self.config.search_attributes)

        self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ]
        )
        self.port = self._grpc.add_insecure_port(f"{self.config.ip}:{self.config.port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.ip}:{self.config.port}")
        if not isinstance(self.clock, SkippingClock):  # time skipping must see every timer
            self.core.load_timers_ahead()
        if self.store.shared:
            self._cluster = Cluster(self.store, self.core, self.namespaces, self._advertised_address())
            await self._cluster.start()
        else:
            await self.core.recover()
        if self.core.membership.leader:
            self.admin.start()
        else:
            self._leading = asyncio.create_task(self._lead(), name="leader-jobs")
        self._timer_loop = asyncio.create_task(self.core.timers.run(), name="timers")

        worker_tasks = WorkerTasks(self.core, queries, updates, self.admin.registry.validate)
        workflows.started_task = worker_tasks.started_workflow_task
        service = WorkflowService(
            self.namespaces,
            workflows,
            worker_tasks,
            HistoryReader(self.core),
            queries,
            updates,
            self._cluster.peers if self._cluster else None,
        )
        workflow_service = [*self.admin.workflow_service_parts, service]
        self.implementations = {
            WORKFLOW_SERVICE.full_name: (
                self._cluster.router.wrap(WORKFLOW_SERVICE, workflow_service)
                if self._cluster
                else workflow_service
            ),
            OPERATOR_SERVICE.full_name: [self.admin.operator_service],
        }
        handlers = [
            generic_handler(service_descriptor, *self.implementations[service_descriptor.full_name])
            for service_descriptor in (WORKFLOW_SERVICE, OPERATOR_SERVICE)
        ]
        if isinstance(self.clock, SkippingClock):  # a time-skipping test server
            handlers.append(time_skipping_handler(self.core, self.clock))
        self._grpc.add_generic_rpc_handlers(handlers)
        health_servicer = await _health_servicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self._grpc)
        await self._grpc.start()
        await self.web.start((WORKFLOW_SERVICE, OPERATOR_SERVICE), self.implementations)

    async def _lead(self) -> None:
        """Run the jobs that one process at a time runs, once this one is the one."""
        while not self.core.membership.leader:
            await asyncio.sleep(LEADER_CHECK_SECONDS)
        self.admin.start()

    def _advertised_address(self) -> str:
        if self.config.advertise_address:
            return self.config.advertise_address
        ip = self.config.ip
        host = socket.gethostname() if ip in ("0.0.0.0", "::", "") else ip
        return f"{host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.config.ip}:{self.port}"

    async def wait(self) -> None:
        assert self._grpc is not None
        await self._grpc.wait_for_termination()

    async def stop(self, grace: float = 2.0) -> None:
        self.matching.close()
        await self.web.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace)
        for task in (self._timer_loop, self._leading):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._cluster is not None:
            await self._cluster.stop()
        await self.admin.stop()
        await self.core.transfers.close()
        await self.store.close()


async def _health_servicer() -> health.aio.HealthServicer:
    servicer = health.aio.HealthServicer()
    for service in ("", WORKFLOW_SERVICE.full_name):
        await servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return servicer
