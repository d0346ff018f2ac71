"""The one connection a PostgreSQL store LISTENs on, kept alive whatever happens to it.

Notices (NOTIFY) reach a process only over a connection of its own that stays open, so the
store holds one outside its pool. When that connection is lost (the database restarted, a
network cut, an administrator's pg_terminate_backend), a supervisor connects again, with a
backoff from a tenth of a second up to five seconds, subscribes again to every channel and
then runs the `resumed` callbacks: notices sent while nobody listened are gone, so what they
would have said must be learnt again. Any error on the way (a refused connection, a
timeout, asyncpg's "another operation is in progress") is one more try, never the end of
the supervisor. A connection that went silent without closing is found by a probe every
few seconds. Every use of the connection takes one lock, so a probe, a LISTEN and a
reconnection never overlap on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from clepsydra.store.factory import redact

log = logging.getLogger(__name__)
# A LISTEN callback: (connection, server pid, channel, payload).
Notice = Callable[[object, int, str, object], None]
MIN_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0
PROBE_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 10.0


class NoticeListener:
    def __init__(self, url: str, resumed: list[Callable[[], Awaitable[None]]]) -> None:
        self._url = url
        self._resumed = resumed
        self._channels: list[tuple[str, Notice]] = []
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        # Set while a connection listens on every channel; cleared when it is lost.
        self.listening = asyncio.Event()
        self.reconnections = 0

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend that listens now (None between connections)."""
        conn = self._conn
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    async def start(self, channels: list[tuple[str, Notice]]) -> None:
        """Listen on `channels`; raises if the first connection cannot be made."""
        self._channels = list(channels)
        conn = await self._connect()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(conn), name="pg-notices")

    async def listen(self, channel: str, notice: Notice) -> None:
        """Listen on one more channel, now and after every reconnection."""
        self._channels.append((channel, notice))
        async with self._lock:
            if self._conn is not None:
                try:
                    await self._conn.add_listener(channel, notice)
                except Exception as error:  # the supervisor connects again, with this channel
                    log.warning("cannot listen on %s yet: %s", channel, redact(str(error)))
                    self._conn.terminate()

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            conn.terminate()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            async with self._lock:
                for channel, notice in list(self._channels):
                    await conn.add_listener(channel, notice)
                self._conn = conn
        except BaseException:
            conn.terminate()
            raise
        self.listening.set()
        return conn

    async def _supervise(self, first: asyncpg.Connection) -> None:
        conn: asyncpg.Connection | None = first
        backoff = MIN_BACKOFF_SECONDS
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                    self.reconnections += 1
                    for resumed in self._resumed:
                        await resumed()
                    log.info("listening for notices again")
                backoff = MIN_BACKOFF_SECONDS
                await self._watch(conn)
                log.warning("lost the connection that listens for notices; connecting again")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("cannot listen for notices yet (retrying): %s", redact(str(error)))
            self.listening.clear()
            if conn is not None:
                conn.terminate()
            self._conn = conn = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Return once `conn` is closed or no longer answers."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
            if lost.is_set() or conn.is_closed():
                return
            async with self._lock:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_SECONDS)
