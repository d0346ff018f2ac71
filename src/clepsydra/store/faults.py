"""Storage faults, told apart from bugs: what a client should retry, and what ends serving.

A full disk, a database locked by someone else, a file made read-only, an I/O error, a
PostgreSQL server that is down, restarting or out of connections: none of these is the
request's fault nor the server's, and each may pass. They answer UNAVAILABLE (which the
SDKs retry) rather than INTERNAL, with what happened in words. Nothing was half-written:
every change is one transaction, rolled back when it fails.

`DatabaseInUse` and `DatabaseLost` are different: a second server on one SQLite file, and a
file deleted or replaced under a running server. They stop the server (they are OSErrors,
so the command line reports them in one line).
"""

from __future__ import annotations

import errno
import sqlite3
import sys

from clepsydra.errors import Unavailable

# SQLite's messages for what passes (or what an operator fixes) rather than what a bug makes.
_SQLITE_TRANSIENT = (
    "database or disk is full",
    "database is locked",
    "database table is locked",
    "attempt to write a readonly database",
    "disk i/o error",
    "unable to open database file",
    "database schema has changed",
)
_OS_TRANSIENT = {
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM, errno.EFBIG,
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH,
}  # fmt: skip
# asyncpg's classes (by name: asyncpg is imported only where PostgreSQL is used) for a
# connection that is gone or cannot be made, and for a server that refuses writes for now.
_ASYNCPG_TRANSIENT = {
    "ConnectionDoesNotExistError", "ConnectionFailureError", "PostgresConnectionError",
    "CannotConnectNowError", "TooManyConnectionsError", "AdminShutdownError", "CrashShutdownError",
    "DiskFullError", "InsufficientResourcesError", "OutOfMemoryError", "ReadOnlySQLTransactionError",
    "QueryCanceledError", "InterfaceError", "ConnectionRejectionError",
    "SerializationError", "DeadlockDetectedError", "ObjectNotInPrerequisiteStateError",
}  # fmt: skip


class DatabaseInUse(OSError):
    """Another server holds the SQLite file."""


class DatabaseLost(OSError):
    """The SQLite file this server opened was deleted or replaced while it served."""


def unavailable(error: BaseException) -> Unavailable | None:
    """The UNAVAILABLE answer for a storage fault that may pass; None for anything else."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, DatabaseLost):  # the server is stopping: nothing more is acknowledged
        return Unavailable(str(error))
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        if any(fault in text for fault in _SQLITE_TRANSIENT):
            return Unavailable(f"the database cannot be used now: {error}")
        return None
    if isinstance(error, TimeoutError):  # a pool with no free connection, a lock waited on too long
        return Unavailable("the database did not answer in time")
    if isinstance(error, OSError) and not isinstance(error, DatabaseInUse | DatabaseLost):
        if error.errno in _OS_TRANSIENT or isinstance(error, ConnectionError):
            return Unavailable(f"the database cannot be reached or written now: {error.strerror or error}")
        return None
    if "asyncpg" in sys.modules and _is_asyncpg_transient(error):
        return Unavailable(f"the database cannot be used now: {type(error).__name__}: {error}")
    return None


def _is_asyncpg_transient(error: BaseException) -> bool:
    if isinstance(error, ValueError):  # asyncpg's DataError and configuration errors: not passing
        return False
    return type(error).__module__.startswith("asyncpg") and any(
        cls.__name__ in _ASYNCPG_TRANSIENT for cls in type(error).__mro__
    )
