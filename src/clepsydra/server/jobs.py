"""The background work that one process at a time runs: deleting what retention expired,
emptying deleted namespaces, batch operations, and the query planner's statistics."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from clepsydra.batch.jobs import BatchJobs
from clepsydra.cleanup.reclaim import NamespaceReclaimer
from clepsydra.cleanup.retention import RetentionSweeper
from clepsydra.store.base import Store

log = logging.getLogger(__name__)
STATISTICS_INTERVAL_SECONDS = 300.0


class LeaderJobs:
    def __init__(
        self, store: Store, retention: RetentionSweeper, reclaimer: NamespaceReclaimer, batches: BatchJobs
    ) -> None:
        self.store = store
        self.retention = retention
        self.reclaimer = reclaimer
        self.batches = batches
        self._background: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Resume deleting namespaces marked deleted and running batch jobs; start the sweeps."""
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
                await self.store.refresh_visibility_statistics()
            except Exception:
                log.exception("could not refresh query planner statistics")
            await asyncio.sleep(STATISTICS_INTERVAL_SECONDS)
