"""The timer queue holding only the timers due soon, the rest staying in a real SQLite store
until the horizon reaches them. Timers here are seconds apart and the window is one second,
so the test waits a few real seconds; it asserts order and "never early", not lateness."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path

from clepsydra.clock import SystemClock
from clepsydra.engine.codec import dumps, loads
from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.history.timer_queue import TimerQueue
from clepsydra.store.base import StoredTimer
from clepsydra.store.sqlite import SqliteStore
from tests.store.helpers import key, start

WINDOW = timedelta(seconds=1)
GUARD = 30.0  # only against hanging


async def test_timers_beyond_the_window_wait_in_the_store_and_fire_in_order(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "timers.db"))
    await store.open()
    clock = SystemClock()
    fired: list[tuple[str, datetime]] = []
    all_fired = asyncio.Event()
    seconds = [0.3, 1.8, 2.6, 3.4]

    async def fire(k: ExecutionKey, task: TimerTask) -> None:
        fired.append((k.workflow_id, clock.now()))
        if len(fired) == len(seconds):
            all_fired.set()

    async def load(after: datetime, until: datetime) -> list[tuple[ExecutionKey, TimerTask]]:
        return [(t.key, loads(TimerTask, t.data)) for t in await store.load_timers(after=after, until=until)]

    queue = TimerQueue(clock, WINDOW)
    now = clock.now()
    tasks = {f"wf-{i}": TimerTask(TimerKind.USER_TIMER, now + timedelta(seconds=s), event_id=i)
             for i, s in enumerate(seconds)}  # fmt: skip
    for workflow_id, task in tasks.items():
        k = key(workflow_id)
        await store.commit(start(k, timers=[StoredTimer(k, task.key, task.fire_time, dumps(task))]))
        queue.add(k, task)  # what the writer does after its commit: kept only if due soon
    assert queue.horizon is not None
    assert len(queue) == 1  # the others wait in the store

    running = asyncio.create_task(queue.run(fire, load))
    try:
        async with asyncio.timeout(GUARD):
            await all_fired.wait()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await store.close()
    assert [workflow_id for workflow_id, _ in fired] == ["wf-0", "wf-1", "wf-2", "wf-3"]
    for workflow_id, when in fired:
        assert when >= tasks[workflow_id].fire_time
