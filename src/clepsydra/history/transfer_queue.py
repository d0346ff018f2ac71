"""Transfer tasks in memory: run each after its commit, retry until it is done.

The transfer_tasks table is the truth; a task stays there until the change that
completes it deletes it, so a crash at any point leaves it to be run again at
start-up, and every action is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import TransferTask

log = logging.getLogger(__name__)
MAX_CONCURRENT = 64
RETRY_SECONDS = 0.5

Executor = Callable[[ExecutionKey, TransferTask], Awaitable[None]]


class TransferQueue:
    def __init__(self, on_idle: Callable[[], None] | None = None) -> None:
        """`on_idle`: called when the last transfer under way is done (time skipping waits
        for that before it moves the clock)."""
        self._on_idle = on_idle
        self._execute: Executor | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._running: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[ExecutionKey, TransferTask]] = []
        # The tasks waiting or under way, so that loading one twice runs it once.
        self._known: set[tuple[ExecutionKey, TransferTask]] = set()

    @property
    def busy(self) -> bool:
        """Whether some transfer is still under way (or waiting to be bound)."""
        return bool(self._running or self._waiting)

    def bind(self, execute: Executor) -> None:
        """Set what runs the tasks; tasks added before this wait for it."""
        self._execute = execute
        waiting, self._waiting = self._waiting, []
        for key, task in waiting:
            self.add(key, task)

    def add(self, key: ExecutionKey, task: TransferTask) -> None:
        if (key, task) in self._known:
            return
        if self._execute is None:
            self._waiting.append((key, task))
            return
        self._known.add((key, task))
        running = asyncio.get_running_loop().create_task(self._run(key, task))
        self._running.add(running)
        running.add_done_callback(self._done)

    def _done(self, running: asyncio.Task[None]) -> None:
        self._running.discard(running)
        if not self.busy and self._on_idle is not None:
            self._on_idle()

    async def _run(self, key: ExecutionKey, task: TransferTask) -> None:
        try:
            await self._run_until_done(key, task)
        finally:
            self._known.discard((key, task))

    async def _run_until_done(self, key: ExecutionKey, task: TransferTask) -> None:
        assert self._execute is not None
        while True:
            async with self._slots:
                try:
                    await self._execute(key, task)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.debug("transfer %s of %s not done yet: %s", task.key, key, error)
            await asyncio.sleep(RETRY_SECONDS)

    async def close(self) -> None:
        for running in list(self._running):
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
