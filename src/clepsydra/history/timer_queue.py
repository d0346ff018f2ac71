"""Durable timers in memory: a heap ordered by due time, fed after each commit.

The timers table is the truth; this heap is rebuilt from it at start-up, so a
timer that comes due while the server is down fires as soon as it is back.

With a `window` (and so a `horizon`), the heap holds only the timers due before it: a timer
due later stays in the store, and the horizon moves a window (WINDOW) ahead, loading the
timers it passes, while still half a window away. So a million workflows waiting for days cost memory
only as they come due, and no timer is loaded late.

The heap also holds alarms: in-memory callbacks that the test service sets for
its sleeps. When the clock may skip time (a time-skipping test server, unlocked
and idle), the queue moves it straight to the next due entry instead of waiting;
no skip happens while a timer is being fired, since firing usually creates work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clepsydra.clock import Clock
from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import TimerTask

log = logging.getLogger(__name__)
MAX_CONCURRENT_FIRES = 64
RETRY_DELAY = timedelta(seconds=1)
WINDOW = timedelta(seconds=60)

# Loads the timers due in (after, until].
Loader = Callable[[datetime, datetime], Awaitable[list[tuple[ExecutionKey, TimerTask]]]]


@dataclass
class Alarm:
    """A callback to run at a point in (the clock's) time; not kept across restarts."""

    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


Entry = tuple[float, int, ExecutionKey | None, TimerTask | Alarm]


Fire = Callable[[ExecutionKey, TimerTask], Awaitable[None]]
# Whether a timer is still worth skipping to (time skipping: not the timeout of a done task).
WorthSkippingTo = Callable[[ExecutionKey, TimerTask], bool]


class TimerQueue:
    def __init__(
        self,
        clock: Clock,
        window: timedelta | None = WINDOW,
        worth_skipping_to: WorthSkippingTo | None = None,
    ) -> None:
        """`window`: hold only the timers due within it (None: every timer, as a time-skipping
        server must, to see the next one to skip to)."""
        self._clock = clock
        self._heap: list[Entry] = []
        self._sequence = itertools.count()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FIRES)
        self._running: set[asyncio.Task[None]] = set()
        # The timers in the heap or being fired, so that loading one twice fires it once.
        self._known: set[tuple[ExecutionKey, TimerTask]] = set()
        self._window = window
        # Timers due after this stay in the store (None: every timer is in the heap).
        self.horizon: datetime | None = clock.now() + window if window is not None else None
        self.worth_skipping_to = worth_skipping_to
        clock.on_change(self._wake.set)

    def __len__(self) -> int:
        """How many timers and alarms are held in memory."""
        return len(self._heap)

    def lag(self) -> float:
        """How late, in seconds, the earliest timer held is (0 if none is due yet). Safe to call
        from another thread (the metrics server's): it reads the heap's head only."""
        heap = self._heap
        due = heap[0][0] if heap else None
        return 0.0 if due is None else max(0.0, self._clock.now().timestamp() - due)

    def add(self, key: ExecutionKey, task: TimerTask) -> None:
        if (key, task) in self._known or (self.horizon is not None and task.fire_time > self.horizon):
            return
        self._known.add((key, task))
        self._push(task.fire_time, key, task)

    def alarm(self, when: datetime, callback: Callable[[], None]) -> Alarm:
        alarm = Alarm(callback)
        self._push(when, None, alarm)
        return alarm

    async def sleep_until(self, when: datetime, then: Callable[[], None] | None = None) -> None:
        """Return once the clock reaches `when`; `then` runs at that instant, before any skip."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ring() -> None:
            if then is not None:
                then()
            if not done.done():
                done.set_result(None)

        alarm = self.alarm(when, ring)
        try:
            await done
        finally:
            alarm.cancel()

    def _push(self, when: datetime, key: ExecutionKey | None, item: TimerTask | Alarm) -> None:
        due = when.timestamp()
        # A new head changes how long to wait; when skipping, any entry may be the new target.
        if not self._heap or due < self._heap[0][0] or self.worth_skipping_to is not None:
            self._wake.set()
        heapq.heappush(self._heap, (due, next(self._sequence), key, item))

    async def run(self, fire: Fire, load: Loader) -> None:
        """Fire timers as they come due, with `fire`; `load` brings in those due next in time."""
        loading = asyncio.create_task(self._load_ahead(load)) if self._window is not None else None
        try:
            await self._run(fire)
        finally:
            if loading is not None:
                loading.cancel()

    async def _load_ahead(self, load: Loader) -> None:
        assert self._window is not None and self.horizon is not None
        while True:
            await asyncio.sleep((self.horizon - self._window / 2 - self._clock.now()).total_seconds())
            # Moved before loading: a timer committed meanwhile is added by its writer.
            passed, self.horizon = self.horizon, self._clock.now() + self._window
            try:
                for key, task in await load(passed, self.horizon):
                    self.add(key, task)
            except Exception:
                log.exception("could not load the timers due next; trying again")
                self.horizon = passed
                await asyncio.sleep(RETRY_DELAY.total_seconds())

    async def _run(self, fire: Fire) -> None:
        while True:
            # Cleared before looking, so that a change signalled meanwhile means one more look.
            self._wake.clear()
            await self._fire_due(fire)
            head = self._head()
            target = None if self._running else self._skip_target(head)
            if target is not None and self._clock.skip_to(_datetime(target)):
                continue
            delay = head - self._clock.now().timestamp() if head is not None else None
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _head(self) -> float | None:
        """Due time of the next entry (cancelled alarms are dropped on the way)."""
        while self._heap:
            item = self._heap[0][3]
            if isinstance(item, Alarm) and item.cancelled:
                heapq.heappop(self._heap)
                continue
            return self._heap[0][0]
        return None

    def _skip_target(self, head: float | None) -> float | None:
        """Due time of the first entry worth skipping to; stale ones before it then fire as no-ops."""
        live = self.worth_skipping_to
        if live is None or head is None:
            return head
        return min((due for due, _, key, item in self._heap if _worth(live, key, item)), default=None)

    async def _fire_due(self, fire: Fire) -> None:
        now = self._clock.now().timestamp()
        while self._heap and self._heap[0][0] <= now:
            _, _, key, item = heapq.heappop(self._heap)
            if isinstance(item, Alarm):
                if not item.cancelled:
                    item.callback()
                continue
            assert key is not None
            await self._slots.acquire()
            fired = asyncio.create_task(self._fire_one(fire, key, item))
            self._running.add(fired)
            fired.add_done_callback(self._fired)

    def _fired(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # the clock may skip again once nothing is being fired

    async def _fire_one(self, fire: Fire, key: ExecutionKey, task: TimerTask) -> None:
        self._known.discard((key, task))
        try:
            await fire(key, task)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer %s of %s failed; retrying", task.key, key)
            retry_at = self._clock.now() + RETRY_DELAY
            self.add(key, dataclasses.replace(task, fire_time=retry_at))
        finally:
            self._slots.release()


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _worth(
    live: Callable[[ExecutionKey, TimerTask], bool], key: ExecutionKey | None, item: TimerTask | Alarm
) -> bool:
    if isinstance(item, Alarm):
        return not item.cancelled
    return key is not None and live(key, item)
