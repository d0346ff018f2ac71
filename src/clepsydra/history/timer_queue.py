"""Durable timers in memory: a heap ordered by due time, fed after each commit.

The timers table is the truth; this heap is rebuilt from it at start-up, so a
timer that comes due while the server is down fires as soon as it is back.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from clepsydra.clock import Clock
from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import TimerTask

log = logging.getLogger(__name__)
MAX_CONCURRENT_FIRES = 64
RETRY_DELAY = timedelta(seconds=1)


class TimerQueue:
    def __init__(self, clock: Clock, fire: Callable[[ExecutionKey, TimerTask], Awaitable[None]]) -> None:
        self._clock = clock
        self._fire = fire
        self._heap: list[tuple[float, int, ExecutionKey, TimerTask]] = []
        self._sequence = itertools.count()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FIRES)
        self._running: set[asyncio.Task[None]] = set()

    def add(self, key: ExecutionKey, task: TimerTask) -> None:
        due = task.fire_time.timestamp()
        if not self._heap or due < self._heap[0][0]:
            self._wake.set()
        heapq.heappush(self._heap, (due, next(self._sequence), key, task))

    async def run(self) -> None:
        while True:
            now = self._clock.now().timestamp()
            while self._heap and self._heap[0][0] <= now:
                _, _, key, task = heapq.heappop(self._heap)
                await self._slots.acquire()
                fired = asyncio.create_task(self._fire_one(key, task))
                self._running.add(fired)
                fired.add_done_callback(self._running.discard)
            self._wake.clear()
            delay = self._heap[0][0] - now if self._heap else None
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _fire_one(self, key: ExecutionKey, task: TimerTask) -> None:
        try:
            await self._fire(key, task)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer %s of %s failed; retrying", task.key, key)
            retry_at = self._clock.now() + RETRY_DELAY
            self.add(key, TimerTask(task.kind, retry_at, task.event_id, task.attempt, task.timeout_type))
        finally:
            self._slots.release()
