"""The skipping clock and the timer queue that moves it, without a server: no real waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from clepsydra.clock import SkippingClock, UnbalancedUnlock
from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.history.timer_queue import Fire, TimerQueue

START = datetime(2030, 1, 1, tzinfo=UTC)
KEY = ExecutionKey("ns", "wf", "run")


def test_skips_only_when_unlocked_and_idle() -> None:
    clock = SkippingClock(start=START)
    busy = [False]
    clock.add_busy(lambda: busy[0])
    target = START + timedelta(days=1)

    assert not clock.skip_to(target)  # a new clock is locked, as Temporal's test server is
    clock.unlock()
    busy[0] = True
    assert not clock.skip_to(target)
    busy[0] = False
    assert clock.skip_to(target)
    assert target <= clock.now() < target + timedelta(minutes=1)
    assert not clock.skip_to(START)  # never backwards


def test_unlock_without_lock_is_refused() -> None:
    clock = SkippingClock(locked=False)
    with pytest.raises(UnbalancedUnlock):
        clock.unlock()


def test_unlocking_tells_the_listeners() -> None:
    clock = SkippingClock()
    calls: list[str] = []
    clock.on_change(lambda: calls.append("changed"))
    clock.lock()
    clock.unlock()
    assert calls == []  # still locked once
    clock.unlock()
    assert calls == ["changed"]


async def _never_fired(key: ExecutionKey, task: TimerTask) -> None:
    raise AssertionError("no durable timer in this test")


@contextlib.asynccontextmanager
async def running(queue: TimerQueue, fire: Fire = _never_fired) -> AsyncIterator[None]:
    task = asyncio.create_task(queue.run(fire, _nothing_due))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_alarm_waits_while_locked_and_rings_once_unlocked() -> None:
    clock = SkippingClock(start=START)
    queue = TimerQueue(clock, window=None)
    rung = asyncio.Event()
    async with running(queue):
        queue.alarm(START + timedelta(days=2), rung.set)
        await settle()
        assert not rung.is_set()
        assert clock.now() < START + timedelta(days=2)

        clock.unlock()
        await rung.wait()
        assert clock.now() >= START + timedelta(days=2)


async def test_stale_timers_are_not_skipped_to_but_fire_on_the_way() -> None:
    clock = SkippingClock(start=START, locked=False)
    fired: list[TimerTask] = []

    async def fire(key: ExecutionKey, task: TimerTask) -> None:
        fired.append(task)

    queue = TimerQueue(clock, window=None, worth_skipping_to=lambda key, task: task.event_id != 1)
    stale = TimerTask(TimerKind.WORKFLOW_TASK_TIMEOUT, START + timedelta(seconds=10), event_id=1)
    live = TimerTask(TimerKind.USER_TIMER, START + timedelta(hours=1), event_id=2)
    async with running(queue, fire):
        queue.add(KEY, stale)
        await settle()
        assert fired == []
        assert clock.now() < START + timedelta(seconds=10)  # nothing worth skipping to yet

        queue.add(KEY, live)
        await queue.sleep_until(live.fire_time)
        await settle()
    assert fired == [stale, live]


async def _nothing_due(after: datetime, until: datetime) -> list[tuple[ExecutionKey, TimerTask]]:
    return []
