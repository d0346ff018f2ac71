"""SQLite store: WAL mode, one writer thread, group commit.

All database work runs on one dedicated thread that owns the connection. Commits
queue up while the previous batch is being written; the next batch then applies
them all in one transaction, each inside its own savepoint so that a write whose
condition fails is rolled back alone, and pays for a single fsync. A commit is
acknowledged only after the transaction holding it is durable
(`synchronous=FULL`).

One server per file: the store holds an exclusive `flock` on the database file while it is
open (a lock of its own kind, apart from SQLite's locks), so a second server on the same
file refuses to start. `check_file()` tells whether the path still names the file that was
opened: a file deleted or replaced under a running server would take every later write
with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from clepsydra.engine.codec import from_micros, to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import ConditionFailed
from clepsydra.store.base import (
    CurrentExecution,
    CurrentWrite,
    ExecutionWrite,
    NamespaceRecord,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
)
from clepsydra.store.faults import DatabaseInUse, DatabaseLost, unavailable
from clepsydra.store.migrations import sqlite_migrations
from clepsydra.store.sqlite_admin import SqliteAdmin
from clepsydra.store.sqlite_batch import SqliteBatch
from clepsydra.store.sqlite_visibility import SqliteVisibility

T = TypeVar("T")
_KEY = "namespace_id = ? AND workflow_id = ? AND run_id = ?"


def _key(key: ExecutionKey) -> tuple[str, str, str]:
    return (key.namespace_id, key.workflow_id, key.run_id)


@dataclass(frozen=True)
class _Deletion:
    """A done task's row: deleted in the next group commit, sharing its fsync, rather than in a
    transaction (and fsync) of its own that would hold up every commit queued behind it."""

    table: str
    key: ExecutionKey
    task_key: str


PROBE_BYTES = 4096
MAX_PROBE_BYTES = 64 * 1024 * 1024


def _size(write: ExecutionWrite | _Deletion) -> int:
    """About how many bytes a write adds to the database."""
    if isinstance(write, _Deletion):
        return 0
    history = len(write.history_batch[1]) if write.history_batch else 0
    return len(write.state) + history + (_size(write.successor) if write.successor else 0)


# Marks a SQLite file as Clepsydra's (the `application_id` in its header): "Clep".
APPLICATION_ID = 0x436C6570


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back what a failed transaction did, unless SQLite has already (it does on some
    I/O errors and on a full disk). A rollback that fails itself leaves the original error to
    be reported, and the transaction to the next batch, which rolls it back first."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


class ForeignDatabase(RuntimeError):
    """The file is a SQLite database, but not one this server created."""


class SqliteStore(SqliteVisibility, SqliteAdmin, SqliteBatch):
    shared = False  # one process per file

    def __init__(self, path: str | None) -> None:
        """`path` None keeps everything in memory, gone when the process ends."""
        self._path = path or ":memory:"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[ExecutionWrite | _Deletion, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # namespace id → custom search attribute name → visibility column (see SqliteVisibility).
        self._custom_columns: dict[str, dict[str, str]] = {}
        # The file's descriptor that holds the lock, and which file it is (device, inode).
        self._lock_fd: int | None = None
        self._identity: tuple[int, int] | None = None
        # How much the last batch of commits held, if it failed for a fault that may pass.
        self._failed_bytes = 0

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            self._lock_file()
        except BaseException:
            conn.close()
            raise
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        application = conn.execute("PRAGMA application_id").fetchone()[0]
        if application not in (0, APPLICATION_ID) or (
            "schema_version" not in tables and {t for t in tables if not t.startswith("sqlite_")}
        ):
            # Another program's database: changing it in any way (even its journal mode) is wrong.
            conn.close()
            self._unlock_file()
            raise ForeignDatabase(f"{self._path} is a SQLite database of another program, not Clepsydra's")
        if application == 0:  # new, or made before files were marked
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        self._migrate()

    def _migrate(self) -> None:
        conn = self.conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        migrations = sqlite_migrations()
        if version > len(migrations):
            raise RuntimeError(
                f"database schema version {version} is newer than this Clepsydra "
                f"({len(migrations)}); upgrade Clepsydra"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version VALUES (?)", (number,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _lock_file(self) -> None:
        """Hold the file for this process, or refuse: another server has it."""
        if self._path == ":memory:" or self._path.startswith("file:"):
            return
        # SQLite created the file. Closing any descriptor of it drops SQLite's own (POSIX)
        # locks of this process, so this one stays open until the connection is closed.
        fd = os.open(self._path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"{self._path} is in use by another Clepsydra server; one server per database file"
            ) from None
        stat = os.fstat(fd)
        self._lock_fd, self._identity = fd, (stat.st_dev, stat.st_ino)

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the flock goes with it
            self._lock_fd = None

    def check_file(self) -> None:
        """Raise DatabaseLost if the path no longer names the file that was opened."""
        if self._identity is None or self._lock_fd is None:
            return
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            raise DatabaseLost(f"{self._path} was deleted while the server used it") from None
        if (stat.st_dev, stat.st_ino) != self._identity or os.fstat(self._lock_fd).st_nlink == 0:
            raise DatabaseLost(f"{self._path} was replaced by another file while the server used it")

    async def probe(self) -> None:
        """A write, durable like any commit: raises if the database cannot be written now. After
        commits failed (a full disk, a file that may not grow), it writes as much as they held,
        so that it passes only once they would."""
        size = min(max(self._failed_bytes, PROBE_BYTES), MAX_PROBE_BYTES)

        def write() -> None:
            conn = self.conn
            conn.execute(
                "INSERT OR REPLACE INTO secrets (name, value) VALUES ('probe', zeroblob(?))", (size,)
            )
            conn.execute("DELETE FROM secrets WHERE name = 'probe'")

        await self._run(write)
        self._failed_bytes = 0

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._conn is not None:
            await self._run(self.conn.close)
            self._conn = None
        self._unlock_file()
        self._executor.shutdown(wait=True)

    # -- namespaces -------------------------------------------------------------------------

    async def create_namespace(self, record: NamespaceRecord) -> bool:
        def insert() -> bool:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO namespaces (id, name, data) VALUES (?, ?, ?)",
                (record.id, record.name, record.data),
            )
            return cursor.rowcount == 1

        return bool(await self._run(insert))

    async def get_namespace(self, name: str) -> NamespaceRecord | None:
        def read() -> NamespaceRecord | None:
            row = self.conn.execute(
                "SELECT id, name, data FROM namespaces WHERE name = ?", (name,)
            ).fetchone()
            return NamespaceRecord(*row) if row else None

        result: NamespaceRecord | None = await self._run(read)
        return result

    async def list_namespaces(self) -> list[NamespaceRecord]:
        def read() -> list[NamespaceRecord]:
            rows = self.conn.execute("SELECT id, name, data FROM namespaces ORDER BY name")
            return [NamespaceRecord(*row) for row in rows]

        result: list[NamespaceRecord] = await self._run(read)
        return result

    # -- executions -------------------------------------------------------------------------

    async def get_current_execution(self, namespace_id: str, workflow_id: str) -> CurrentExecution | None:
        def read() -> CurrentExecution | None:
            row = self.conn.execute(
                "SELECT run_id, first_run_id, status, start_request_id FROM current_executions"
                " WHERE namespace_id = ? AND workflow_id = ?",
                (namespace_id, workflow_id),
            ).fetchone()
            return CurrentExecution(*row) if row else None

        result: CurrentExecution | None = await self._run(read)
        return result

    async def get_execution(self, key: ExecutionKey) -> tuple[bytes, int] | None:
        def read() -> tuple[bytes, int] | None:
            row = self.conn.execute(
                f"SELECT state, db_version FROM executions WHERE {_KEY}", _key(key)
            ).fetchone()
            return (row[0], row[1]) if row else None

        result: tuple[bytes, int] | None = await self._run(read)
        return result

    async def read_history(self, key: ExecutionKey, first_event_id: int) -> list[tuple[int, bytes]]:
        """Batches that may hold events from `first_event_id` on, in order."""

        def read() -> list[tuple[int, bytes]]:
            start = self.conn.execute(
                f"SELECT MAX(first_event_id) FROM history WHERE {_KEY} AND first_event_id <= ?",
                (*_key(key), first_event_id),
            ).fetchone()[0]
            rows = self.conn.execute(
                f"SELECT first_event_id, events FROM history WHERE {_KEY} AND first_event_id >= ?"
                " ORDER BY first_event_id",
                (*_key(key), start or first_event_id),
            )
            return [(row[0], row[1]) for row in rows]

        result: list[tuple[int, bytes]] = await self._run(read)
        return result

    # -- commits ----------------------------------------------------------------------------

    async def commit(self, write: ExecutionWrite | _Deletion) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    outcomes = await self._run(self._commit_batch, [w for w, _ in batch])
                    self._failed_bytes = 0
                except BaseException as error:
                    outcomes = [error] * len(batch)
                    if unavailable(error) is not None:  # the probe writes as much, to see it pass
                        self._failed_bytes = sum(_size(w) for w, _ in batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
        finally:
            self._flusher = None

    def _commit_batch(self, writes: list[ExecutionWrite | _Deletion]) -> list[BaseException | None]:
        conn = self.conn
        outcomes: list[BaseException | None] = []
        self.check_file()  # a file deleted or replaced: acknowledging a write to it would lose it
        _roll_back(conn)  # what a failed rollback left open, if anything
        conn.execute("BEGIN IMMEDIATE")
        try:
            for write in writes:
                conn.execute("SAVEPOINT w")
                try:
                    if isinstance(write, _Deletion):
                        self._delete(write.table, write.key, write.task_key)
                    else:
                        self._apply(write)
                    outcomes.append(None)
                except (ConditionFailed, sqlite3.IntegrityError) as error:
                    conn.execute("ROLLBACK TO w")
                    outcomes.append(ConditionFailed(str(error)))
                conn.execute("RELEASE w")
            conn.execute("COMMIT")
        except BaseException:
            _roll_back(conn)
            raise
        return outcomes

    def _apply(self, w: ExecutionWrite) -> None:
        conn = self.conn
        key = _key(w.key)
        if w.expected_version == 0:
            conn.execute(
                "INSERT INTO executions (namespace_id, workflow_id, run_id, state, db_version)"
                " VALUES (?, ?, ?, ?, 1)",
                (*key, w.state),
            )
        else:
            cursor = conn.execute(
                f"UPDATE executions SET state = ?, db_version = db_version + 1"
                f" WHERE {_KEY} AND db_version = ?",
                (w.state, *key, w.expected_version),
            )
            if cursor.rowcount != 1:
                raise ConditionFailed(f"{w.key} changed since version {w.expected_version}")
        if w.current is not None:
            self._write_current(w.key, w.current)
        if w.history_batch is not None:
            conn.execute(
                "INSERT INTO history (namespace_id, workflow_id, run_id, first_event_id, events)"
                " VALUES (?, ?, ?, ?, ?)",
                (*key, *w.history_batch),
            )
        if w.closed:
            conn.execute(f"DELETE FROM queue_tasks WHERE {_KEY}", key)
            conn.execute(f"DELETE FROM timers WHERE {_KEY}", key)
        if w.done_queue_task is not None:
            conn.execute(f"DELETE FROM queue_tasks WHERE {_KEY} AND task_key = ?", (*key, w.done_queue_task))
        if w.done_transfer is not None:
            conn.execute(f"DELETE FROM transfer_tasks WHERE {_KEY} AND task_key = ?", (*key, w.done_transfer))
        if w.done_timer is not None:
            conn.execute(f"DELETE FROM timers WHERE {_KEY} AND task_key = ?", (*key, w.done_timer))
        if w.visibility is not None:
            self._upsert_visibility(w.visibility)
        conn.executemany(
            "INSERT OR REPLACE INTO transfer_tasks (namespace_id, workflow_id, run_id, task_key, data)"
            " VALUES (?, ?, ?, ?, ?)",
            [(*_key(t.key), t.task_key, t.data) for t in w.transfers],
        )
        if w.successor is not None:
            self._apply(w.successor)
        conn.executemany(
            "INSERT OR REPLACE INTO queue_tasks"
            " (namespace_id, workflow_id, run_id, task_key, task_queue, kind, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*_key(t.key), t.task_key, t.task_queue, t.kind, t.data) for t in w.queue_tasks],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO timers"
            " (namespace_id, workflow_id, run_id, task_key, fire_time, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(*_key(t.key), t.task_key, to_micros(t.fire_time), t.data) for t in w.timers],
        )

    def _write_current(self, key: ExecutionKey, current: CurrentWrite) -> None:
        values = (current.run_id, current.first_run_id, current.status, current.start_request_id)
        if current.previous_run_id is None:
            self.conn.execute(
                "INSERT INTO current_executions"
                " (run_id, first_run_id, status, start_request_id, namespace_id, workflow_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (*values, key.namespace_id, key.workflow_id),
            )
            return
        cursor = self.conn.execute(
            "UPDATE current_executions"
            " SET run_id = ?, first_run_id = ?, status = ?, start_request_id = ?"
            " WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?",
            (*values, key.namespace_id, key.workflow_id, current.previous_run_id),
        )
        if cursor.rowcount != 1:
            raise ConditionFailed(f"workflow {key.workflow_id} has a new current run")

    # -- tasks ------------------------------------------------------------------------------

    async def delete_timer(self, key: ExecutionKey, task_key: str) -> None:
        await self.commit(_Deletion("timers", key, task_key))

    async def delete_transfer(self, key: ExecutionKey, task_key: str) -> None:
        await self.commit(_Deletion("transfer_tasks", key, task_key))

    async def load_transfers(self, shards: Collection[int] | None = None) -> list[StoredTransfer]:
        def read() -> list[StoredTransfer]:
            rows = self.conn.execute(
                "SELECT namespace_id, workflow_id, run_id, task_key, data FROM transfer_tasks ORDER BY rowid"
            )
            return [StoredTransfer(ExecutionKey(*r[:3]), r[3], r[4]) for r in rows]

        result: list[StoredTransfer] = await self._run(read)
        return result

    async def delete_queue_task(self, key: ExecutionKey, task_key: str) -> None:
        await self.commit(_Deletion("queue_tasks", key, task_key))

    async def load_tasks_of(
        self, key: ExecutionKey
    ) -> tuple[list[StoredQueueTask], list[StoredTimer], list[StoredTransfer]]:
        def read() -> tuple[list[StoredQueueTask], list[StoredTimer], list[StoredTransfer]]:
            args = _key(key)
            queue = self.conn.execute(
                f"SELECT task_key, task_queue, kind, data FROM queue_tasks WHERE {_KEY}", args
            )
            timers = self.conn.execute(f"SELECT task_key, fire_time, data FROM timers WHERE {_KEY}", args)
            transfers = self.conn.execute(
                f"SELECT task_key, data FROM transfer_tasks WHERE {_KEY} ORDER BY rowid", args
            )
            return (
                [StoredQueueTask(key, *r) for r in queue],
                [StoredTimer(key, r[0], from_micros(r[1]), r[2]) for r in timers],
                [StoredTransfer(key, *r) for r in transfers],
            )

        result: tuple[list[StoredQueueTask], list[StoredTimer], list[StoredTransfer]] = await self._run(read)
        return result

    def _delete(self, table: str, key: ExecutionKey, task_key: str) -> None:
        self.conn.execute(f"DELETE FROM {table} WHERE {_KEY} AND task_key = ?", (*_key(key), task_key))

    async def load_queue_tasks(self, shards: Collection[int] | None = None) -> list[StoredQueueTask]:
        def read() -> list[StoredQueueTask]:
            rows = self.conn.execute(
                "SELECT namespace_id, workflow_id, run_id, task_key, task_queue, kind, data"
                " FROM queue_tasks ORDER BY rowid"
            )
            return [StoredQueueTask(ExecutionKey(*r[:3]), r[3], r[4], r[5], r[6]) for r in rows]

        result: list[StoredQueueTask] = await self._run(read)
        return result

    async def load_timers(
        self,
        shards: Collection[int] | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredTimer]:
        """All timers, or those due in (`after`, `until`]. (One process serves a SQLite file
        and holds its every shard: `shards` selects nothing here.)"""
        low = -(2**63) if after is None else to_micros(after)
        high = 2**63 - 1 if until is None else to_micros(until)

        def read() -> list[StoredTimer]:
            rows = self.conn.execute(
                "SELECT namespace_id, workflow_id, run_id, task_key, fire_time, data FROM timers"
                " WHERE fire_time > ? AND fire_time <= ?",
                (low, high),
            )
            return [StoredTimer(ExecutionKey(*r[:3]), r[3], from_micros(r[4]), r[5]) for r in rows]

        result: list[StoredTimer] = await self._run(read)
        return result
