"""`GET /health` on the HTTP API port, for load balancers and Kubernetes probes: 200 while the
server can reach its database, 503 when it cannot (every write would fail)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0
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
