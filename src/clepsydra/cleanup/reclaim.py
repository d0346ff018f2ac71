"""Finish deleting namespaces marked DELETED: delete their runs, then their rows.

The mark is durable, so this resumes after a crash (it runs at start-up and after
each DeleteNamespace).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from clepsydra.cleanup.deletion import RunDeleter
from clepsydra.errors import NotFound
from clepsydra.services.namespaces import Namespaces
from clepsydra.store.base import Store

log = logging.getLogger(__name__)
BATCH = 500


class NamespaceReclaimer:
    def __init__(self, store: Store, namespaces: Namespaces, deleter: RunDeleter) -> None:
        self._store = store
        self._namespaces = namespaces
        self._deleter = deleter
        self._running: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Reclaim in the background; a call while one is running is folded into it."""
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._reclaim_all(), name="namespace-reclaim")

    async def stop(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)

    async def _reclaim_all(self) -> None:
        try:
            for namespace in await self._namespaces.deleted():
                await self.reclaim(namespace.namespace_info.id)
        except Exception:
            log.exception("namespace deletion failed; it resumes at the next start")

    async def reclaim(self, namespace_id: str) -> None:
        while keys := await self._store.runs_of_namespace(namespace_id, BATCH):
            for key in keys:
                with contextlib.suppress(NotFound):  # deleted meanwhile
                    await self._deleter.delete(key)
        await self._store.delete_namespace(namespace_id)
        log.info("namespace %s deleted", namespace_id)
