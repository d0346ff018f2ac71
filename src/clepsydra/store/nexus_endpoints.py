"""Nexus endpoints in the store: one row per endpoint, unique by name, versioned.

Endpoints are global (not per namespace) and change rarely, so their table stands apart
from the execution tables: `EndpointStore` is its own small interface, implemented once
per backend on the backend's connection (`endpoint_store` picks the one for a store).
Every change is conditioned on the version read, as the reference's endpoint table is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from clepsydra.store.base import Store
    from clepsydra.store.postgres import PostgresStore
    from clepsydra.store.sqlite import SqliteStore


@dataclass(frozen=True)
class EndpointRow:
    id: str
    name: str
    version: int
    data: bytes  # serialized temporal.api.nexus.v1.Endpoint, its worker target by namespace id


class NameTaken(Exception):
    """Another endpoint has this name."""


class EndpointStore(Protocol):
    async def create_endpoint(self, row: EndpointRow) -> None:
        """NameTaken if the name is another endpoint's."""
        ...

    async def update_endpoint(self, row: EndpointRow, expected_version: int) -> bool:
        """False if the endpoint is gone or its version moved; NameTaken as create."""
        ...

    async def delete_endpoint(self, endpoint_id: str) -> bool: ...
    async def get_endpoint(self, endpoint_id: str) -> EndpointRow | None: ...
    async def endpoint_by_name(self, name: str) -> EndpointRow | None: ...
    async def list_endpoints(self, after_id: str, limit: int) -> list[EndpointRow]:
        """Endpoints in id order, from the first id after `after_id`."""
        ...


def endpoint_store(store: Store) -> EndpointStore:
    """The endpoint table of `store`'s database, on its connection. Read off what the store
    has rather than its class, so that a store wrapped by another (as tests wrap one to inject
    faults) still finds it."""
    if store.shared:
        return PostgresEndpoints(cast("PostgresStore", store))
    return SqliteEndpoints(cast("SqliteStore", store))


_COLUMNS = "id, name, version, data"


def _row(values: tuple[str, str, int, bytes] | None) -> EndpointRow | None:
    return None if values is None else EndpointRow(values[0], values[1], int(values[2]), bytes(values[3]))


class SqliteEndpoints:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def _fetch(self, sql: str, *args: object) -> list[tuple[str, str, int, bytes]]:
        def fetch() -> list[tuple[str, str, int, bytes]]:
            return self._store.conn.execute(sql, args).fetchall()

        rows: list[tuple[str, str, int, bytes]] = await self._store._run(fetch)
        return rows

    async def _change(self, sql: str, *args: object) -> int:
        def change() -> int:
            try:
                return self._store.conn.execute(sql, args).rowcount
            except sqlite3.IntegrityError:
                raise NameTaken() from None

        count: int = await self._store._run(change)
        return count

    async def create_endpoint(self, row: EndpointRow) -> None:
        await self._change(
            f"INSERT INTO nexus_endpoints ({_COLUMNS}) VALUES (?, ?, ?, ?)",
            row.id,
            row.name,
            row.version,
            row.data,
        )

    async def update_endpoint(self, row: EndpointRow, expected_version: int) -> bool:
        return (
            await self._change(
                "UPDATE nexus_endpoints SET name = ?, version = ?, data = ? WHERE id = ? AND version = ?",
                row.name,
                row.version,
                row.data,
                row.id,
                expected_version,
            )
            == 1
        )

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        return await self._change("DELETE FROM nexus_endpoints WHERE id = ?", endpoint_id) == 1

    async def get_endpoint(self, endpoint_id: str) -> EndpointRow | None:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE id = ?", endpoint_id)
        return _row(rows[0] if rows else None)

    async def endpoint_by_name(self, name: str) -> EndpointRow | None:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE name = ?", name)
        return _row(rows[0] if rows else None)

    async def list_endpoints(self, after_id: str, limit: int) -> list[EndpointRow]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE id > ? ORDER BY id LIMIT ?", after_id, limit
        )
        return [r for r in map(_row, rows) if r is not None]


class PostgresEndpoints:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def _change(self, sql: str, *args: object) -> str:
        import asyncpg

        try:
            status: str = await self._store.pool.execute(sql, *args)
        except asyncpg.UniqueViolationError:
            raise NameTaken() from None
        return status

    async def create_endpoint(self, row: EndpointRow) -> None:
        await self._change(
            f"INSERT INTO nexus_endpoints ({_COLUMNS}) VALUES ($1, $2, $3, $4)",
            row.id,
            row.name,
            row.version,
            row.data,
        )

    async def update_endpoint(self, row: EndpointRow, expected_version: int) -> bool:
        status = await self._change(
            "UPDATE nexus_endpoints SET name = $1, version = $2, data = $3 WHERE id = $4 AND version = $5",
            row.name,
            row.version,
            row.data,
            row.id,
            expected_version,
        )
        return status == "UPDATE 1"

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        return await self._change("DELETE FROM nexus_endpoints WHERE id = $1", endpoint_id) == "DELETE 1"

    async def get_endpoint(self, endpoint_id: str) -> EndpointRow | None:
        record = await self._store.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE id = $1", endpoint_id
        )
        return None if record is None else _row(tuple(record))

    async def endpoint_by_name(self, name: str) -> EndpointRow | None:
        record = await self._store.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE name = $1", name
        )
        return None if record is None else _row(tuple(record))

    async def list_endpoints(self, after_id: str, limit: int) -> list[EndpointRow]:
        records = await self._store.pool.fetch(
            f"SELECT {_COLUMNS} FROM nexus_endpoints WHERE id > $1 ORDER BY id LIMIT $2", after_id, limit
        )
        return [r for r in (_row(tuple(record)) for record in records) if r is not None]
