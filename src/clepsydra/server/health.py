"""Health: `GET /health` on the HTTP API port, for load balancers and Kubernetes probes (200
while the server can reach its database, 503 when it cannot), and the gRPC health service,
kept true by `StoreWatch`."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable

from grpc_health.v1 import health, health_pb2
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from clepsydra.store.base import Store
from clepsydra.store.faults import DatabaseInUse, DatabaseLost, unavailable

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0
WATCH_SECONDS = 1.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
Check = Callable[[], Awaitable[object]]


class WithHealth:
    """An ASGI app that answers `/health` itself and passes everything else on."""

    def __init__(self, app: ASGIApp, check: Check) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/health":
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                await self.check()
            response = JSONResponse({"status": "SERVING"})
        except Exception as error:
            log.warning("health check failed: %s", error)
            response = JSONResponse({"status": "NOT_SERVING", "error": str(error)}, status_code=503)
        await response(scope, receive, send)


class StoreWatch:
    """Whether the store can be written, told to the gRPC health service (and `/health`).

    Every `interval` the watch makes one small durable write (`Store.probe`): while writes
    fail with a fault that may pass (a full disk, a read-only file, a database that is down)
    every service is NOT_SERVING, and SERVING again as soon as a write succeeds, with no one
    having to step in. A SQLite file deleted or replaced under the server is not a fault
    that passes: the watch calls `lost` with what happened, once, and the server stops.
    """

    def __init__(
        self,
        store: Store,
        servicer: health.aio.HealthServicer,
        services: Iterable[str],
        lost: Callable[[str], None],
        interval: float = WATCH_SECONDS,
    ) -> None:
        self._store = store
        self._servicer = servicer
        self._services = ["", *services]
        self._lost = lost
        self._interval = interval
        self.serving = True
        self.problem = ""

    async def check(self) -> None:
        """For `/health`: raise while writes fail."""
        if not self.serving:
            raise RuntimeError(self.problem)

    async def run(self) -> None:
        while True:
            try:
                self._store.check_file()
                async with asyncio.timeout(CHECK_SECONDS * 2):
                    await self._store.probe()
            except (DatabaseLost, DatabaseInUse) as error:
                log.error("stopping: %s", error)
                await self._set(False, str(error))
                self._lost(str(error))
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                fault = unavailable(error)
                await self._set(False, fault.message if fault else f"{type(error).__name__}: {error}")
            else:
                await self._set(True, "")
            await asyncio.sleep(self._interval)

    async def _set(self, serving: bool, problem: str) -> None:
        if serving != self.serving:
            if serving:
                log.warning("the database can be written again: serving")
            else:
                log.error("the database cannot be written (%s): not serving", problem)
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for service in self._services:
                await self._servicer.set(service, status)
        self.serving, self.problem = serving, problem


async def health_servicer(services: Iterable[str]) -> health.aio.HealthServicer:
    """The gRPC health service, every service (and the server as a whole, "") SERVING."""
    servicer = health.aio.HealthServicer()
    for service in ("", *services):
        await servicer.set(service, SERVING)
    return servicer


def ignore_file_size_signal() -> None:
    """A write past the file size limit (ulimit -f) raises SIGXFSZ, which kills a process by
    default; ignored, the write fails with EFBIG instead, a fault the store reports. Only the
    main thread may set a handler (an in-process test server runs in another)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
