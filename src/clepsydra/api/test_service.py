"""temporal.api.testservice.v1.TestService: time skipping, as Temporal's Java test server does it.

Served only by a server running on a `SkippingClock`. Time jumps to the next due
timer while nobody holds a lock (`LockTimeSkipping`, or the lock a new server
starts with) and nothing is busy (`services/time_skipping.py`).
"""

from __future__ import annotations

from datetime import UTC

import grpc
from google.protobuf.empty_pb2 import Empty
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

from clepsydra.clock import SkippingClock, UnbalancedUnlock
from clepsydra.errors import FailedPrecondition
from clepsydra.history.timer_queue import TimerQueue

TEST_SERVICE = test_service_pb2.DESCRIPTOR.services_by_name["TestService"]
Context = grpc.aio.ServicerContext


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
