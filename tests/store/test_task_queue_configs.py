"""The task queue config table, on SQLite and PostgreSQL: one row per namespace, queue name and
queue type, replaced by each change."""

from __future__ import annotations

import uuid
from typing import Any

from clepsydra.store.task_queue_configs import ConfigRow, config_store


async def test_configs_are_kept_per_queue_and_type_and_replaced(store: Any) -> None:
    configs = config_store(store)
    namespace_id = str(uuid.uuid4())
    assert await configs.get_config(namespace_id, "q", 2) is None
    await configs.put_config(ConfigRow(namespace_id, "q", 2, b"first"))
    await configs.put_config(ConfigRow(namespace_id, "q", 1, b"workflow"))
    await configs.put_config(ConfigRow(namespace_id, "q", 2, b"second"))
    assert await configs.get_config(namespace_id, "q", 2) == ConfigRow(namespace_id, "q", 2, b"second")
    assert await configs.get_config(namespace_id, "q", 1) == ConfigRow(namespace_id, "q", 1, b"workflow")
    assert await configs.get_config(namespace_id, "other", 2) is None
    mine = [row for row in await configs.list_configs() if row.namespace_id == namespace_id]
    assert sorted(mine, key=lambda row: row.queue_type) == [
        ConfigRow(namespace_id, "q", 1, b"workflow"),
        ConfigRow(namespace_id, "q", 2, b"second"),
    ]
