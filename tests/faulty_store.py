"""Stores that fail when told to, for tests of the update path: a mixin over any real
store class (`FaultySqliteStore`, `FaultyPostgresStore`), so that everything but the faults
is the real store's own code.

What it injects into commits:
- `fail_next(error, after_write=False)`: the next commit raises `error` without writing, or,
  `after_write`, writes durably and then raises: the acknowledgement is lost, the change is not.
- `delay`: every commit waits this long first (a slow disk, a busy database).
- `disk_full`: while set, commits and write probes fail as SQLite does on a full disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from typing import Any

from clepsydra.store.base import ExecutionWrite
from clepsydra.store.postgres import PostgresStore
from clepsydra.store.sqlite import SqliteStore

DISK_FULL = "database or disk is full"


class Faults:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._faults: deque[tuple[BaseException, bool]] = deque()
        self.delay = 0.0
        self.disk_full = False
        self.commits = 0  # commits that reached the real store

    def fail_next(self, error: BaseException, *, after_write: bool = False) -> None:
        self._faults.append((error, after_write))

    async def commit(self, write: ExecutionWrite) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.disk_full:
            raise sqlite3.OperationalError(DISK_FULL)
        error, after_write = self._faults.popleft() if self._faults else (None, False)
        if error is not None and not after_write:
            raise error
        await super().commit(write)  # type: ignore[misc]  # the real store's, next in the MRO
        self.commits += 1
        if error is not None:
            raise error

    async def probe(self) -> None:
        if self.disk_full:
            raise sqlite3.OperationalError(DISK_FULL)
        await super().probe()  # type: ignore[misc]


class FaultySqliteStore(Faults, SqliteStore):
    pass


class FaultyPostgresStore(Faults, PostgresStore):
    pass
