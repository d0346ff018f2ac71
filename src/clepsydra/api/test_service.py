"""temporal.api.testservice.v1.TestService: time skipping, as Temporal's Java test server does it.

Served only by a server running on a `SkippingClock`. Time jumps to the next due
timer while nobody holds a lock (`LockTimeSkipping`, or the lock a new server
starts with) and no workflow or activity task is outstanding, i.e. scheduled but
not completed: the worker is given real time to do its work, and waiting is free.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from google.protobuf.empty_pb2 import Empty
from temporalio.api.enums.v1 import TimeoutType
from temporalio.api.testservice.v1 import (
    GetCurrentTimeResponse,
    LockTimeSkippingRequest,
    LockTimeSkippingResponse,
    SleepRequest,
    SleepResponse,
    SleepUntilRequest,
    UnlockTimeSkippingRequest,
    UnlockTimeSkippingResponse,
)
from temporalio.api.testservice.v1 import service_pb2 as test_service_pb2

from clepsydra.api.grpc_handlers import generic_handler
from clepsydra.clock import SkippingClock, UnbalancedUnlock
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask
from clepsydra.errors import FailedPrecondition
from clepsydra.history.core import HistoryCore
from clepsydra.history.timer_queue import TimerQueue

TEST_SERVICE = test_service_pb2.DESCRIPTOR.services_by_name["TestService"]
Context = grpc.aio.ServicerContext
SCHEDULE_TO_CLOSE = TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE


def time_skipping_handler(core: HistoryCore, clock: SkippingClock) -> grpc.GenericRpcHandler:
    """Make the clock wait for outstanding tasks, and serve the TestService on it."""
    work = WorkTracker(clock)
    core.observers.append(work.observe)
    core.timers.worth_skipping_to = work.timer_is_live
    clock.add_busy(work.busy)
    clock.add_busy(_transfers_in_flight(core))
    return generic_handler(TEST_SERVICE, TestService(clock, core.timers))


def _transfers_in_flight(core: HistoryCore) -> Callable[[], bool]:
    """Whether a transfer (starting a child, signalling another workflow) is still under way.

    Until it is done, the workflow it will wake looks idle, so time must not move.
    """
    return lambda: core.transfers.busy


def outstanding(state: ExecutionState, now: datetime) -> int:
    """Workflow and activity tasks of the execution that are scheduled and not completed.

    An activity waiting out a retry backoff is not outstanding: its next attempt is
    a timer, and skipping to it is the point.
    """
    if not state.running:
        return 0
    count = 1 if state.workflow_task is not None else 0
    for activity in state.activities.values():
        scheduled = activity.current_attempt_scheduled_time or activity.scheduled_time
        if activity.started or scheduled <= now:
            count += 1
    return count


def timer_is_live(state: ExecutionState, task: TimerTask) -> bool:
    """Whether firing the timer would still do something (the engine re-checks anyway).

    Timeouts of tasks that completed stay in the timer queue until they come due;
    time should not jump to them, as the Java test server cancels them instead.
    """
    if not state.running:
        return False
    match task.kind:
        case TimerKind.USER_TIMER:
            return any(t.started_event_id == task.event_id for t in state.timers.values())
        case TimerKind.ACTIVITY_TIMEOUT | TimerKind.ACTIVITY_RETRY:
            info = state.activities.get(task.event_id)
            return info is not None and (
                info.attempt == task.attempt or task.timeout_type == SCHEDULE_TO_CLOSE
            )
        case TimerKind.WORKFLOW_TASK_TIMEOUT:
            wt = state.workflow_task
            return wt is not None and (wt.scheduled_event_id, wt.attempt) == (task.event_id, task.attempt)
    return True


class WorkTracker:
    """What the executions are doing, from every committed state: outstanding tasks, live timers."""

    def __init__(self, clock: SkippingClock) -> None:
        self._clock = clock
        self._outstanding: dict[ExecutionKey, int] = {}
        self._running: dict[ExecutionKey, ExecutionState] = {}
        self._closed: set[ExecutionKey] = set()

    def observe(self, state: ExecutionState) -> None:
        key = state.key
        if state.running:
            self._running[key] = state
        else:
            self._running.pop(key, None)
            self._closed.add(key)
        count = outstanding(state, self._clock.now())
        if count:
            self._outstanding[key] = count
        elif self._outstanding.pop(key, None) is not None and not self._outstanding:
            self._clock.changed()

    def busy(self) -> bool:
        return bool(self._outstanding)

    def timer_is_live(self, key: ExecutionKey, task: TimerTask) -> bool:
        if key in self._closed:
            return False
        state = self._running.get(key)
        return state is None or timer_is_live(state, task)  # unknown (e.g. recovered): assume live


class TestService:
    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, clock: SkippingClock, timers: TimerQueue) -> None:
        self.clock = clock
        self.timers = timers

    async def LockTimeSkipping(
        self, request: LockTimeSkippingRequest, context: Context
    ) -> LockTimeSkippingResponse:
        self.clock.lock()
        return LockTimeSkippingResponse()

    async def UnlockTimeSkipping(
        self, request: UnlockTimeSkippingRequest, context: Context
    ) -> UnlockTimeSkippingResponse:
        self._unlock()
        return UnlockTimeSkippingResponse()

    async def Sleep(self, request: SleepRequest, context: Context) -> SleepResponse:
        """Wait until the clock has moved by the duration (skipping only if someone unlocked it)."""
        await self.timers.sleep_until(self.clock.now() + request.duration.ToTimedelta())
        return SleepResponse()

    async def SleepUntil(self, request: SleepUntilRequest, context: Context) -> SleepResponse:
        await self.timers.sleep_until(request.timestamp.ToDatetime(UTC))
        return SleepResponse()

    async def UnlockTimeSkippingWithSleep(self, request: SleepRequest, context: Context) -> SleepResponse:
        """Unlock, wait until the clock has moved by the duration, lock again: `env.sleep()`."""
        relocked = False

        def relock() -> None:
            # At the alarm's instant, before the timer queue can skip any further.
            nonlocal relocked
            relocked = True
            self.clock.lock()

        wake_at = self.clock.now() + request.duration.ToTimedelta()
        self._unlock()
        try:
            await self.timers.sleep_until(wake_at, then=relock)
        finally:
            if not relocked:  # the caller went away: keep the locks balanced all the same
                self.clock.lock()
        return SleepResponse()

    async def GetCurrentTime(self, request: Empty, context: Context) -> GetCurrentTimeResponse:
        response = GetCurrentTimeResponse()
        response.time.FromDatetime(self.clock.now())
        return response

    def _unlock(self) -> None:
        try:
            self.clock.unlock()
        except UnbalancedUnlock as error:
            raise FailedPrecondition(str(error)) from None
