"""A Clepsydra server inside the test process: no subprocess, nothing to download.

Servers run on one event loop of their own, in a daemon thread, so that they keep
serving whatever the test does with its own loop (pytest-asyncio may give every
test a fresh loop, and a synchronous test blocks its loop). Clients and workers
talk to them over real gRPC on a free port of 127.0.0.1, as they would to any server.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import Client

from clepsydra.clock import Clock, SkippingClock, SystemClock
from clepsydra.server.app import Server, ServerConfig

T = TypeVar("T")
START_TIMEOUT = 30.0
STOP_GRACE = 0.5


class _LoopThread:
    """The event loop every in-process server of the process runs on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="clepsydra-server", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


_loop_thread: _LoopThread | None = None
_loop_lock = threading.Lock()
_running: set[InProcessServer] = set()


def _server_loop() -> _LoopThread:
    global _loop_thread
    with _loop_lock:
        if _loop_thread is None:
            _loop_thread = _LoopThread()
            atexit.register(_stop_all)
        return _loop_thread


def _stop_all() -> None:
    """At exit: stop the servers left running and their loop, so that threads finish cleanly."""
    for server in list(_running):
        server.stop()
    if _loop_thread is not None:
        _loop_thread.loop.call_soon_threadsafe(_loop_thread.loop.stop)
        _loop_thread.thread.join(timeout=5)


class InProcessServer:
    """A Clepsydra server on a background thread of this process.

    `time_skipping=True` makes it a time-skipping test server: it serves the
    TestService, and its clock jumps to the next timer whenever time skipping is
    unlocked and no workflow or activity task is outstanding. It starts locked
    (as Temporal's test server does) unless `start_unlocked` is set.

    `search_attributes` (name → type name: "Keyword", "Int", ...) are registered in
    every namespace, as `temporal server start-dev --search-attribute` does.
    `metrics_port` serves Prometheus metrics (0: any free port; see `metrics_url`).

    Use it as a context manager (`with` or `async with`), or call `start()` and `stop()`.
    """

    def __init__(
        self,
        *,
        time_skipping: bool = False,
        start_unlocked: bool = False,
        start_time: datetime | None = None,
        namespaces: Sequence[str] = (),
        search_attributes: Mapping[str, str] | None = None,
        db_filename: str | None = None,
        ip: str = "127.0.0.1",
        port: int = 0,
        metrics_port: int | None = None,
    ) -> None:
        self.time_skipping = time_skipping
        self.clock: Clock = (
            SkippingClock(locked=not start_unlocked, start=start_time) if time_skipping else SystemClock()
        )
        self.config = ServerConfig(
            ip=ip,
            port=port,
            db_filename=db_filename,
            namespaces=list(namespaces),
            search_attributes=dict(search_attributes or {}),
            metrics_port=metrics_port,
        )
        self.server: Server | None = None

    @property
    def target(self) -> str:
        """host:port to give `Client.connect`."""
        if self.server is None:
            raise RuntimeError("the server is not started")
        return self.server.address

    @property
    def metrics_url(self) -> str | None:
        """http://.../metrics, when started with a `metrics_port`."""
        return None if self.server is None else self.server.metrics_url

    def start(self) -> InProcessServer:
        """Start serving; returns once the port is open."""
        self._run(self._start()).result(START_TIMEOUT)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self._run(self._stop()).result(START_TIMEOUT)

    async def start_async(self) -> InProcessServer:
        """`start()` without blocking the caller's event loop."""
        await asyncio.wrap_future(self._run(self._start()))
        return self

    async def stop_async(self) -> None:
        if self.server is not None:
            await asyncio.wrap_future(self._run(self._stop()))

    async def connect(self, namespace: str = "default", **kwargs: Any) -> Client:
        """A `temporalio` client of this server; keyword arguments go to `Client.connect`."""
        return await Client.connect(self.target, namespace=namespace, **kwargs)

    async def _start(self) -> None:
        # Built on the server's loop, so that whatever it creates belongs to that loop.
        if self.server is not None:
            raise RuntimeError("the server is already started")
        server = Server(self.config, clock=self.clock)
        await server.start()
        self.server = server
        _running.add(self)

    async def _stop(self) -> None:
        server, self.server = self.server, None
        _running.discard(self)
        if server is not None:
            await server.stop(STOP_GRACE)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop_thread = _server_loop()
        if threading.current_thread() is loop_thread.thread:
            coroutine.close()
            raise RuntimeError("an in-process server cannot be driven from its own event loop")
        return loop_thread.run(coroutine)

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> InProcessServer:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()
