"""Worker deployments in the store: one row per deployment of a namespace, versioned.

Like Nexus endpoints (store/nexus_endpoints.py), deployments change rarely and stand apart
from the execution tables in a small interface of their own, implemented on each backend's
connection. Every write is conditioned on the revision read (0: the row must not exist). On
PostgreSQL each change is also announced (NOTIFY on `CHANNEL`) to the other processes, which
route tasks by what they hold in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from clepsydra.store.base import Store
    from clepsydra.store.postgres import PostgresStore
    from clepsydra.store.sqlite import SqliteStore


@dataclass(frozen=True)
class DeploymentRow:
    namespace_id: str
    name: str
    revision: int
    data: bytes


class DeploymentStore(Protocol):
    async def get_deployment(self, namespace_id: str, name: str) -> DeploymentRow | None: ...

    async def all_deployments(self) -> list[DeploymentRow]:
        """Every namespace's: few enough to hold in memory for routing."""
        ...

    async def put_deployment(self, row: DeploymentRow, expected_revision: int) -> bool:
        """False if the row's revision is no longer `expected_revision` (or, with 0, if it
        exists)."""
        ...

    async def delete_deployment(self, namespace_id: str, name: str, expected_revision: int) -> bool: ...

    async def watch(self, changed: Callable[[], None]) -> None:
        """Call `changed` when another process may have changed a deployment."""
        ...


CHANNEL = "clepsydra_worker_deployments"


def deployment_store(store: Store) -> DeploymentStore:
    """The deployment table of `store`'s database (see `endpoint_store`)."""
    if store.shared:
        return PostgresDeployments(cast("PostgresStore", store))
    return SqliteDeployments(cast("SqliteStore", store))


_COLUMNS = "namespace_id, name, revision, data"


def _row(values: tuple[str, str, int, bytes]) -> DeploymentRow:
    return DeploymentRow(values[0], values[1], int(values[2]), bytes(values[3]))


class SqliteDeployments:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def _fetch(self, sql: str, *args: object) -> list[DeploymentRow]:
        def fetch() -> list[tuple[str, str, int, bytes]]:
            return self._store.conn.execute(sql, args).fetchall()

        return [_row(r) for r in await self._store._run(fetch)]

    async def _change(self, sql: str, *args: object) -> bool:
        def change() -> bool:
            try:
                return self._store.conn.execute(sql, args).rowcount == 1
            except sqlite3.IntegrityError:
                return False

        changed: bool = await self._store._run(change)
        return changed

    async def get_deployment(self, namespace_id: str, name: str) -> DeploymentRow | None:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM worker_deployments WHERE namespace_id = ? AND name = ?",
            namespace_id,
            name,
        )
        return rows[0] if rows else None

    async def all_deployments(self) -> list[DeploymentRow]:
        return await self._fetch(f"SELECT {_COLUMNS} FROM worker_deployments")

    async def put_deployment(self, row: DeploymentRow, expected_revision: int) -> bool:
        if expected_revision == 0:
            return await self._change(
                f"INSERT INTO worker_deployments ({_COLUMNS}) VALUES (?, ?, ?, ?)",
                row.namespace_id,
                row.name,
                row.revision,
                row.data,
            )
        return await self._change(
            "UPDATE worker_deployments SET revision = ?, data = ? "
            "WHERE namespace_id = ? AND name = ? AND revision = ?",
            row.revision,
            row.data,
            row.namespace_id,
            row.name,
            expected_revision,
        )

    async def delete_deployment(self, namespace_id: str, name: str, expected_revision: int) -> bool:
        return await self._change(
            "DELETE FROM worker_deployments WHERE namespace_id = ? AND name = ? AND revision = ?",
            namespace_id,
            name,
            expected_revision,
        )

    async def watch(self, changed: Callable[[], None]) -> None:
        """Only this process opens the file: nobody else changes it."""


class PostgresDeployments:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def _change(self, sql: str, *args: object) -> bool:
        import asyncpg

        try:
            async with self._store.pool.acquire() as conn, conn.transaction():
                status: str = await conn.execute(sql, *args)
                if status.endswith(" 1"):  # told at commit
                    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        except asyncpg.UniqueViolationError:
            return False
        return status.endswith(" 1")

    async def watch(self, changed: Callable[[], None]) -> None:
        await self._store._listen(CHANNEL, lambda _conn, _pid, _channel, _payload: changed())

    async def get_deployment(self, namespace_id: str, name: str) -> DeploymentRow | None:
        record = await self._store.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM worker_deployments WHERE namespace_id = $1 AND name = $2",
            namespace_id,
            name,
        )
        return None if record is None else _row(tuple(record))

    async def all_deployments(self) -> list[DeploymentRow]:
        records = await self._store.pool.fetch(f"SELECT {_COLUMNS} FROM worker_deployments")
        return [_row(tuple(record)) for record in records]

    async def put_deployment(self, row: DeploymentRow, expected_revision: int) -> bool:
        if expected_revision == 0:
            return await self._change(
                f"INSERT INTO worker_deployments ({_COLUMNS}) VALUES ($1, $2, $3, $4)",
                row.namespace_id,
                row.name,
                row.revision,
                row.data,
            )
        return await self._change(
            "UPDATE worker_deployments SET revision = $1, data = $2 "
            "WHERE namespace_id = $3 AND name = $4 AND revision = $5",
            row.revision,
            row.data,
            row.namespace_id,
            row.name,
            expected_revision,
        )

    async def delete_deployment(self, namespace_id: str, name: str, expected_revision: int) -> bool:
        return await self._change(
            "DELETE FROM worker_deployments WHERE namespace_id = $1 AND name = $2 AND revision = $3",
            namespace_id,
            name,
            expected_revision,
        )
