"""Delete closed runs once their namespace's retention period has passed.

A periodic sweep rather than one timer per run: what is due follows from the
visibility table (close time) and the namespace's retention, both durable, so the
sweep keeps no state of its own and a crash at any point loses nothing; the next
sweep (one runs at start-up) picks up where this one stopped. Each run is deleted in
its own transaction. Time comes from the server's clock, so a time-skipping clock
ages runs too.
"""

from __future__ import annotations

import asyncio
import logging

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.clock import Clock
from clepsydra.services.namespaces import Namespaces
from clepsydra.store.base import Store

log = logging.getLogger(__name__)
SWEEP_INTERVAL_SECONDS = 60.0
BATCH = 500


class RetentionSweeper:
    def __init__(
        self,
        store: Store,
        namespaces: Namespaces,
        deleter: RunDeleter,
        clock: Clock,
        interval: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._store = store
        self._namespaces = namespaces
        self._deleter = deleter
        self._clock = clock
        self._interval = interval

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention sweep failed; trying again later")
            await asyncio.sleep(self._interval)

    async def sweep(self) -> int:
        """Delete every closed run past its namespace's retention; returns how many."""
        deleted = 0
        for namespace in await self._namespaces.list():
            try:
                retention = namespace.config.workflow_execution_retention_ttl.ToTimedelta()
                cutoff = self._clock.now() - retention
            except OverflowError:  # a retention from before the calendar (saved before bounds)
                continue
            while True:
                keys = await self._store.runs_closed_before(namespace.namespace_info.id, cutoff, BATCH)
                done = [await self._deleter.delete_closed(key) for key in keys]
                deleted += sum(done)
                if len(keys) < BATCH or not any(done):  # never spin on rows that stay
                    break
        if deleted:
            log.info("retention: deleted %d closed runs", deleted)
        return deleted
