"""Stores named by URL, for `clepsydra server start` and `clepsydra db migrate`.

- `postgresql://user[:password]@host[:port]/database` (or `postgres://`): the PostgreSQL
  store. Its schema is changed only by `db migrate`; a server refuses a schema that is
  behind, since other processes may be serving from the same database.
- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (SQLAlchemy's spelling),
  or `sqlite://` for a database in memory: the SQLite store, held to the same rule
  here (`server start-dev` still creates and migrates its file at start).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clepsydra.store.migrations import sqlite_migrations
from clepsydra.store.postgres_schema import SchemaBehind
from clepsydra.store.sqlite import SqliteStore

# asyncpg is imported only when a PostgreSQL database is used: the SDK's workflow sandbox
# re-imports the modules a workflow's module imports (clepsydra.testing, say), and a second
# import of asyncpg's C extensions in one process crashes it.


class BadDatabaseUrl(ValueError):
    pass


@dataclass(frozen=True)
class Database:
    kind: str  # "postgres" or "sqlite"
    url: str
    sqlite_path: str | None = None  # None: in memory

    def __str__(self) -> str:
        return redact(self.url)


def parse(url: str) -> Database:
    """The database a URL names. A URL that is wrong is shown without its password."""
    scheme, sep, rest = url.partition("://")
    shown = repr(redact(url))
    if not sep:
        raise BadDatabaseUrl(f"{shown} is not a database URL (postgresql://... or sqlite:///...)")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return Database("postgres", url)
    if scheme == "sqlite":
        if rest in ("", "/", "/:memory:"):
            return Database("sqlite", url, None)
        if not rest.startswith("/"):
            raise BadDatabaseUrl(
                f"{shown}: a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"
            )
        return Database("sqlite", url, rest[1:])
    raise BadDatabaseUrl(
        f"{shown}: unknown database kind {redact(scheme)!r}; use postgresql:// or sqlite:///"
    )


# password=... among a URL's parameters (libpq's spelling, which asyncpg reads).
_PASSWORD_PARAMETER = re.compile(r"((?:^|[?&])password=)[^&#\s]*", re.IGNORECASE)
_WORD = re.compile(r"\S+@\S*")


def redact(text: str) -> str:
    """The URL (or any text that holds URLs) without passwords, for messages and logs. A URL
    typed wrong is redacted too: whatever lies between the first colon after the scheme (or
    after the start, without one) and the last @ is taken to be a password."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _WORD.sub(_without_password, text))


def _without_password(match: re.Match[str]) -> str:
    word = match.group(0)
    at = word.rfind("@")
    scheme = word.find("://")
    start = scheme + 3 if 0 <= scheme < at else 0
    colon = word.find(":", start, at)
    return word if colon < 0 else f"{word[: colon + 1]}***{word[at:]}"


def errors() -> tuple[type[Exception], ...]:
    """What failing to reach or use a database raises (besides the schema errors)."""
    import asyncpg

    return (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError)


def open_store(database: Database, *, pool_size: int = 10, member: str | None = None) -> Any:
    """A store (not yet open) that refuses to open on a schema that is behind. `member`: this
    process's address, as one of the processes that may share a PostgreSQL database (see
    PostgresStore); a SQLite file has one process."""
    if database.kind == "postgres":
        from clepsydra.store.postgres import PostgresStore

        return PostgresStore(database.url, migrate=False, pool_size=pool_size, member=member)
    return _CheckedSqliteStore(database.sqlite_path)


async def migrate(database: Database, shards: int | None = None) -> tuple[int, int]:
    """Create or upgrade the schema; (version before, version after). Idempotent.
    `shards`: the shard count of a new PostgreSQL database (fixed from then on)."""
    if shards is not None and database.kind != "postgres":
        raise BadDatabaseUrl(f"{database}: shards are for PostgreSQL databases only")
    if database.kind == "postgres":
        import asyncpg

        from clepsydra.store import postgres_schema

        conn = await asyncpg.connect(database.url)
        try:
            return await postgres_schema.migrate(conn, shards)
        finally:
            await conn.close()
    before = _sqlite_version(database.sqlite_path)
    store = SqliteStore(database.sqlite_path)  # migrates at open
    await store.open()
    await store.close()
    return before, len(sqlite_migrations())


def _sqlite_version(path: str | None) -> int:
    if path is None or not Path(path).exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone():
            return 0
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


class _CheckedSqliteStore(SqliteStore):
    """The SQLite store, refusing a file whose schema is behind: `clepsydra db migrate` migrates."""

    def _open(self) -> None:
        latest = len(sqlite_migrations())
        if self._path != ":memory:" and (version := _sqlite_version(self._path)) < latest:
            state = "empty or missing" if version == 0 else f"at schema version {version}"
            url = f"sqlite:///{self._path}"
            raise SchemaBehind(
                f"the database {url} is {state}; this Clepsydra needs version {latest}."
                f" Run `clepsydra db migrate --db-url {url}` first."
            )
        super()._open()  # migrates nothing, or refuses a newer schema
