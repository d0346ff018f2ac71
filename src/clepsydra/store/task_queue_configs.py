"""Task queue configs in the store: one row per namespace, queue name and queue type.

Configs (rate limits and fairness weight overrides, set by UpdateTaskQueueConfig) are few and
change rarely, so, like Nexus endpoints (store/nexus_endpoints.py), their table stands apart
from the execution tables behind a small interface of its own, implemented once per backend
on the backend's connection (`config_store` picks the one for a store). A change replaces the
row: the last write wins, as the reference's config updates do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from clepsydra.store.base import Store
    from clepsydra.store.postgres import PostgresStore
    from clepsydra.store.sqlite import SqliteStore


@dataclass(frozen=True)
class ConfigRow:
    namespace_id: str
    name: str
    queue_type: int  # temporal.api.enums.v1.TaskQueueType
    data: bytes  # serialized temporal.api.taskqueue.v1.TaskQueueConfig


class ConfigStore(Protocol):
    async def get_config(self, namespace_id: str, name: str, queue_type: int) -> ConfigRow | None: ...
    async def put_config(self, row: ConfigRow) -> None: ...
    async def list_configs(self) -> list[ConfigRow]: ...


def config_store(store: Store) -> ConfigStore:
    """The config table of `store`'s database, on its connection (read off what the store has
    rather than its class, so that a wrapped store still finds it)."""
    if store.shared:
        return PostgresConfigs(cast("PostgresStore", store))
    return SqliteConfigs(cast("SqliteStore", store))


_COLUMNS = "namespace_id, name, queue_type, data"
Values = tuple[str, str, int, bytes]


def _row(values: Values) -> ConfigRow:
    return ConfigRow(values[0], values[1], int(values[2]), bytes(values[3]))


class SqliteConfigs:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def _fetch(self, sql: str, *args: object) -> list[Values]:
        def fetch() -> list[Values]:
            return self._store.conn.execute(sql, args).fetchall()

        rows: list[Values] = await self._store._run(fetch)
        return rows

    async def get_config(self, namespace_id: str, name: str, queue_type: int) -> ConfigRow | None:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM task_queue_configs"
            " WHERE namespace_id = ? AND name = ? AND queue_type = ?",
            namespace_id,
            name,
            queue_type,
        )
        return _row(rows[0]) if rows else None

    async def put_config(self, row: ConfigRow) -> None:
        await self._fetch(
            f"INSERT INTO task_queue_configs ({_COLUMNS}) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace_id, name, queue_type) DO UPDATE SET data = excluded.data",
            row.namespace_id,
            row.name,
            row.queue_type,
            row.data,
        )

    async def list_configs(self) -> list[ConfigRow]:
        return [_row(r) for r in await self._fetch(f"SELECT {_COLUMNS} FROM task_queue_configs")]


class PostgresConfigs:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def get_config(self, namespace_id: str, name: str, queue_type: int) -> ConfigRow | None:
        record = await self._store.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM task_queue_configs"
            " WHERE namespace_id = $1 AND name = $2 AND queue_type = $3",
            namespace_id,
            name,
            queue_type,
        )
        return None if record is None else _row(cast(Values, tuple(record)))

    async def put_config(self, row: ConfigRow) -> None:
        await self._store.pool.execute(
            f"INSERT INTO task_queue_configs ({_COLUMNS}) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (namespace_id, name, queue_type) DO UPDATE SET data = excluded.data",
            row.namespace_id,
            row.name,
            row.queue_type,
            row.data,
        )

    async def list_configs(self) -> list[ConfigRow]:
        records = await self._store.pool.fetch(f"SELECT {_COLUMNS} FROM task_queue_configs")
        return [_row(cast(Values, tuple(record))) for record in records]
