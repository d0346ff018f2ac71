"""Word of task-queue backlogs between processes.

Each process dispatches the tasks of the workflows it owns. A task that finds no poll
waiting at its owner is announced to the others (a NOTIFY carrying the owner's address),
and a process that hears of it sends one of its own waiting polls there (see
`Matching.heard` and `WorkerTasks._poll`). Announcements are repeated while tasks keep
waiting with no poll, so one lost on the way only delays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from clepsydra.engine.tasks import QueueKind
from clepsydra.matching.task_queues import Matching

if TYPE_CHECKING:  # asyncpg is imported only where PostgreSQL is used: see store/factory.py
    from clepsydra.store.postgres import PostgresStore

log = logging.getLogger(__name__)
REANNOUNCE_SECONDS = 2.0

QueueName = tuple[str, str, QueueKind]


class Backlogs:
    def __init__(self, store: PostgresStore, matching: Matching, address: str) -> None:
        self.store = store
        self.matching = matching
        self.address = address
        self._pending: set[QueueName] = set()
        self._flush: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.matching.on_backlog = self.announce
        await self.store.listen_backlog(self._heard)
        self._loop = asyncio.create_task(self._repeat(), name="backlog-announcements")

    async def stop(self) -> None:
        for task in (self._loop, self._flush):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def announce(self, namespace_id: str, task_queue: str, kind: QueueKind) -> None:
        """Announce soon: the tasks queued in one turn of the event loop make one notice per queue."""
        self._pending.add((namespace_id, task_queue, kind))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        await asyncio.sleep(0)
        pending, self._pending = self._pending, set()
        for namespace_id, task_queue, kind in pending:
            try:
                await self.store.announce_backlog(namespace_id, task_queue, int(kind), self.address)
            except Exception as error:  # repeated by _repeat while the tasks wait
                log.debug("could not announce the backlog of %s: %s", task_queue, error)

    def _heard(self, namespace_id: str, task_queue: str, kind: int, address: str) -> None:
        if address != self.address:
            self.matching.heard(namespace_id, task_queue, QueueKind(kind), address)

    async def _repeat(self) -> None:
        while True:
            await asyncio.sleep(REANNOUNCE_SECONDS)
            for name in self.matching.waiting_backlogs():
                self.announce(*name)
