"""A running server process: its listeners, its store and the parts `assembly.py` builds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2_grpc

from clepsydra.api.grpc_handlers import generic_handler
from clepsydra.api.rpc_table import rpc_table
from clepsydra.api.test_service import TEST_SERVICE, TestService
from clepsydra.cleanup.retention import SWEEP_INTERVAL_SECONDS
from clepsydra.clock import Clock, SkippingClock, SystemClock
from clepsydra.history.cache import DEFAULT_CACHE_MB
from clepsydra.security import SecurityConfig, ServerTls, guard_of
from clepsydra.server.assembly import SERVICES, Assembly, assemble
from clepsydra.server.frontends import WebConfig, WebFrontends
from clepsydra.server.health import StoreWatch, health_servicer, ignore_file_size_signal
from clepsydra.services.namespaces import DEFAULT_NAMESPACE, Namespaces
from clepsydra.store import factory
from clepsydra.store.base import Store
from clepsydra.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from clepsydra.server.metrics import Metrics

log = logging.getLogger(__name__)
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
    # Prometheus metrics at http://ip:metrics_port/metrics; off unless given (0: any free port).
    metrics_port: int | None = None
    # What the cache of workflow state may hold, in MiB.
    cache_size_mb: int = DEFAULT_CACHE_MB
    # TLS on every listener, bearer tokens and who may call what; off unless asked for.
    security: SecurityConfig = field(default_factory=SecurityConfig)


class Server:
    """A running Clepsydra: `await start()`, then `await stop()`."""

    def __init__(
        self,
        config: ServerConfig,
        clock: Clock | None = None,
        retention_interval: float = SWEEP_INTERVAL_SECONDS,
        store: Store | None = None,
    ) -> None:
        """`store`: a store (not yet open) to serve from instead of the one the config names,
        e.g. a real store wrapped to inject faults in tests."""
        self.config = config
        self._given_store = store
        self.clock = clock or SystemClock()
        # Read now, so that a missing or bad file stops the server before it listens.
        self.tls = ServerTls(config.security.tls) if config.security.tls else None
        self.guard = guard_of(config.security)
        self.web = WebFrontends(config.web, config.ip)
        self.port = config.port
        self._retention_interval = retention_interval
        self._grpc: grpc.aio.Server | None = None
        self._store: Store | None = None
        self._parts: Assembly | None = None
        self._loops: list[asyncio.Task[None]] = []
        self.watch: StoreWatch | None = None
        # Set when the database is gone for good (its file deleted or replaced): stop serving.
        self.lost = asyncio.Event()
        self.lost_reason = ""
        self.metrics: Metrics | None = None
        if config.metrics_port is not None:  # prometheus_client is not even imported otherwise
            from clepsydra.server.metrics import Metrics

            self.metrics = Metrics()

    @property
    def parts(self) -> Assembly:
        assert self._parts is not None, "the server is not started"
        return self._parts

    @property
    def store(self) -> Store:
        assert self._store is not None, "the server is not started"
        return self._store

    @property
    def namespaces(self) -> Namespaces:
        return self.parts.namespaces

    async def start(self) -> None:
        """Listen first (the port is this process's address), then open the store, build
        the parts on it, re-arm what the store says is pending and serve."""
        self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ]
        )
        listen = f"{self.config.ip}:{self.config.port}"
        if self.tls is None:
            self.port = self._grpc.add_insecure_port(listen)
        else:
            self.port = self._grpc.add_secure_port(listen, self.tls.grpc_credentials())
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.ip}:{self.config.port}")
        address = self._advertised_address()
        if self._given_store is not None:
            self._store, kind = self._given_store, "postgres" if self._given_store.shared else "sqlite"
        elif self.config.db_url:
            database = factory.parse(self.config.db_url)
            self._store = factory.open_store(database, member=address)
            kind = database.kind
        else:  # the dev server's file, created or migrated at open
            self._store, kind = SqliteStore(self.config.db_filename), "sqlite"
        await self._store.open()
        secret = await self._store.token_secret()
        parts = self._parts = assemble(
            self._store,
            self.clock,
            address,
            kind,
            self._retention_interval,
            secret,
            self.metrics,
            peer_credentials=self.tls.channel_credentials() if self.tls else None,
            cache_bytes=self.config.cache_size_mb * 1024 * 1024,
        )
        if self.metrics is not None:
            self.metrics.watch_backlogs(parts.matching.backlogs, parts.namespaces.cached_names)
            self.metrics.watch_cache(parts.core.cache)
            self.metrics.watch_timers(parts.timers)
            if parts.cluster is not None:
                self.metrics.watch_shards(parts.cluster.membership.held_shards)
        for name in [DEFAULT_NAMESPACE, *self.config.namespaces]:  # as `temporal server start-dev` does
            await parts.namespaces.ensure(name)
            await parts.search_attributes.add_by_type_name(name, self.config.search_attributes)

        parts.transfers.bind(parts.transfer_actions.execute)
        await parts.task_queue_configs.load()  # before tasks are queued: limits and weights apply to them
        await parts.worker_deployments.load()  # before tasks are queued: matching routes them
        if parts.cluster is not None:
            await parts.cluster.start()
        else:
            await parts.core.recover()
        self._loops = [
            asyncio.create_task(self._lead(), name="leader-jobs"),
            asyncio.create_task(parts.core.run_timers(), name="timers"),
            asyncio.create_task(parts.worker_deployments.refresh_forever(), name="worker-deployments"),
        ]
        recorder = self.metrics
        # Every front end serves the same tables, so one guard checks gRPC, HTTP and the UI.
        tables = {
            name: self.guard.wrap(table) if self.guard else table for name, table in parts.tables.items()
        }
        handlers = [generic_handler(service, tables[service.full_name], recorder) for service in SERVICES]
        if isinstance(self.clock, SkippingClock):  # a time-skipping test server
            assert parts.work is not None
            self.clock.add_busy(parts.work.busy)
            # Until a transfer is done, the workflow it will wake looks idle: time must not move.
            self.clock.add_busy(lambda: parts.transfers.busy)
            test_service = rpc_table(TEST_SERVICE, [TestService(self.clock, parts.timers)])
            handlers.append(generic_handler(TEST_SERVICE, test_service, recorder))
        self._grpc.add_generic_rpc_handlers(handlers)
        names = [service.full_name for service in SERVICES]
        servicer = await health_servicer(names)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, self._grpc)
        ignore_file_size_signal()
        self.watch = StoreWatch(self._store, servicer, names, self._database_lost)
        self._loops.append(asyncio.create_task(self.watch.run(), name="store-watch"))
        if self._store.shared:  # the other processes change task queue configs too
            self._loops.append(asyncio.create_task(parts.task_queue_configs.refresh(10.0), name="tq-configs"))
        await self._grpc.start()
        await self.web.start(
            SERVICES,
            tables,
            health=self._healthy,
            tls=self.tls,
            authorizes=self.guard is not None,
            nexus=self.parts.nexus_inbound,
        )
        if self.web.http_address is not None and self.guard is None and self.parts.nexus_inbound is not None:
            self.parts.nexus_inbound.serve_callbacks_at(f"{self.web.scheme}://{self.web.http_address}")
        if self.metrics is not None:
            assert self.config.metrics_port is not None
            self.metrics.start(self.config.ip, self.config.metrics_port)

    async def _lead(self) -> None:
        """Run the jobs that one process at a time runs, once this one is the one."""
        cluster = self.parts.cluster
        while cluster is not None and not cluster.membership.leader:
            await asyncio.sleep(LEADER_CHECK_SECONDS)
        self.parts.jobs.start()

    def _advertised_address(self) -> str:
        if self.config.advertise_address:
            return self.config.advertise_address
        ip = self.config.ip
        host = socket.gethostname() if ip in ("0.0.0.0", "::", "") else ip
        return f"{host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.config.ip}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        """Where the metrics are served, once started (None when off)."""
        if self.metrics is None or self.metrics.port is None:
            return None
        return f"http://{self.config.ip}:{self.metrics.port}/metrics"

    async def _healthy(self) -> None:
        """For `/health`: writes work, and the database answers a read."""
        if self.watch is not None:
            await self.watch.check()
        await self.store.get_namespace(DEFAULT_NAMESPACE)

    def _database_lost(self, problem: str) -> None:
        """The database is gone for good (see StoreWatch): `lost` tells whoever runs the server."""
        if not self.lost.is_set():
            self.lost_reason = problem
            self.lost.set()

    async def wait(self) -> None:
        assert self._grpc is not None
        await self._grpc.wait_for_termination()

    async def stop(self, grace: float = 2.0) -> None:
        parts = self._parts
        if parts is not None:
            parts.matching.close()
        await self.web.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace)
        for task in self._loops:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if parts is not None:
            if parts.cluster is not None:
                await parts.cluster.stop()
            await parts.jobs.stop()
            await parts.transfers.close()
        if self._store is not None:
            await self._store.close()
