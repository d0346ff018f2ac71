"""The operator-facing half of a server: visibility, namespaces, search attributes, task queue
descriptions, deleting runs, and the background work that deletes what has expired.

`Server` builds one `Administration`, routes the RPCs below to it (these objects come
before WorkflowService's, so theirs win where both define an RPC), and starts and
stops its background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2

from clepsydra.api.batch_service import BatchService
from clepsydra.api.deletion_service import DeletionService
from clepsydra.api.namespace_service import NamespaceService
from clepsydra.api.operator_service import OperatorService
from clepsydra.api.task_queue_service import TaskQueueService
from clepsydra.api.visibility_service import VisibilityService
from clepsydra.batch.jobs import BatchJobs
from clepsydra.batch.operations import BatchOperations
from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.cleanup.reclaim import NamespaceReclaimer
from clepsydra.cleanup.retention import SWEEP_INTERVAL_SECONDS, RetentionSweeper
from clepsydra.clock import Clock
from clepsydra.errors import InvalidArgument
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import Matching
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.search_attributes import SearchAttributeRegistry
from clepsydra.services.visibility import Visibility
from clepsydra.services.workflows import Workflows
from clepsydra.visibility.attributes import AttrType

OPERATOR_SERVICE = operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"]
STATISTICS_INTERVAL_SECONDS = 300.0
log = logging.getLogger(__name__)


class Administration:
    def __init__(
        self,
        core: HistoryCore,
        namespaces: Namespaces,
        matching: Matching,
        clock: Clock,
        address: Callable[[], str],
        retention_interval: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        store = core.store
        self.registry = SearchAttributeRegistry(store, namespaces)
        self.deleter = RunDeleter(core)
        self.retention = RetentionSweeper(store, namespaces, self.deleter, clock, retention_interval)
        self.reclaimer = NamespaceReclaimer(store, namespaces, self.deleter)
        operations = BatchOperations(Workflows(core), self.deleter)
        self.batches = BatchJobs(store, namespaces, self.registry, operations, clock)
        self.workflow_service_parts: list[object] = [
            NamespaceService(namespaces),
            VisibilityService(Visibility(store, namespaces, self.registry)),
            TaskQueueService(namespaces, matching, clock, address),
            DeletionService(namespaces, core, self.deleter),
            BatchService(self.batches),
        ]
        self.operator_service = OperatorService(namespaces, self.registry, self.reclaimer, address)
        self._store = store
        self._background: list[asyncio.Task[None]] = []

    async def register_search_attributes(self, namespace: str, attributes: dict[str, str]) -> None:
        """Register custom search attributes by type name ("Keyword", "Int", ...), e.g. at start-up."""
        if not attributes:
            return
        by_name = {t.value.lower(): t for t in AttrType}
        wanted = {}
        for name, type_name in attributes.items():
            type_ = by_name.get(type_name.lower())
            if type_ is None:
                raise InvalidArgument(f"unknown search attribute type {type_name!r} for {name}")
            wanted[name] = type_.indexed_value_type
        await self.registry.add(namespace, wanted)

    def start(self) -> None:
        """Resume deleting namespaces marked deleted and running batch jobs; start the retention sweeps."""
        self.reclaimer.start()
        self._background = [
            asyncio.create_task(self.batches.resume(), name="batch-resume"),
            asyncio.create_task(self.retention.run(), name="retention"),
            asyncio.create_task(self._refresh_statistics(), name="statistics"),
        ]

    async def stop(self) -> None:
        await self.reclaimer.stop()
        await self.batches.close()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh_statistics(self) -> None:
        """Keep the planner's picture of the visibility table current as it grows."""
        while True:
            try:
                await self._store.refresh_visibility_statistics()
            except Exception:
                log.exception("could not refresh query planner statistics")
            await asyncio.sleep(STATISTICS_INTERVAL_SECONDS)
