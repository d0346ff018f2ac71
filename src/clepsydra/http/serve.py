"""Run an ASGI app with uvicorn inside the server's own event loop.

We bind the socket ourselves, so that a port that is taken fails `start()` at once with an
OSError (uvicorn would exit the process), port 0 gets a free port we can report, and the
process's signal handlers stay the CLI's (uvicorn's own would replace them).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

SHUTDOWN_GRACE_SECONDS = 2  # uvicorn takes whole seconds


class _EmbeddedUvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the host process handles signals and calls stop()


def bind(ip: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpServer:
    """One ASGI app on one socket: `await start()`, then `await stop()`."""

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        on_stop: Callable[[], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: serve HTTPS with this context (its own callbacks may swap certificates)."""
        self.sock = sock
        self._on_stop = on_stop
        config = uvicorn.Config(
            app,
            lifespan="off",
            access_log=False,
            log_config=None,  # keep the process's logging configuration
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            ssl_context_factory=None if tls is None else (lambda _config, _default: tls),
        )
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]), name="http-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise OSError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        if self._on_stop is not None:
            self._on_stop()  # ends long polls, so that connections close at once
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.sock.close()
