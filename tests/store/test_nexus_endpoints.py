"""The Nexus endpoint table, on SQLite and PostgreSQL: unique names, changes conditioned on
the version read, lists in id order."""

from __future__ import annotations

from typing import Any

import pytest

from clepsydra.store.nexus_endpoints import EndpointRow, NameTaken, endpoint_store


async def test_endpoints_are_unique_by_name_and_changed_on_their_version(store: Any) -> None:
    endpoints = endpoint_store(store)
    for row in await endpoints.list_endpoints("", 1000):
        await endpoints.delete_endpoint(row.id)
    first = EndpointRow("00000000-0000-0000-0000-000000000001", "one", 1, b"a")
    await endpoints.create_endpoint(first)
    with pytest.raises(NameTaken):
        await endpoints.create_endpoint(EndpointRow("00000000-0000-0000-0000-000000000002", "one", 1, b"b"))
    second = EndpointRow("00000000-0000-0000-0000-000000000002", "two", 1, b"b")
    await endpoints.create_endpoint(second)
    assert await endpoints.get_endpoint(first.id) == first
    assert await endpoints.endpoint_by_name("two") == second
    assert await endpoints.endpoint_by_name("three") is None

    changed = EndpointRow(first.id, "uno", 2, b"c")
    assert not await endpoints.update_endpoint(changed, expected_version=2)
    assert await endpoints.update_endpoint(changed, expected_version=1)
    assert await endpoints.get_endpoint(first.id) == changed
    with pytest.raises(NameTaken):
        await endpoints.update_endpoint(EndpointRow(second.id, "uno", 2, b"d"), expected_version=1)

    assert [r.id for r in await endpoints.list_endpoints("", 10)] == [first.id, second.id]
    assert [r.id for r in await endpoints.list_endpoints(first.id, 10)] == [second.id]
    assert [r.id for r in await endpoints.list_endpoints("", 1)] == [first.id]
    assert await endpoints.delete_endpoint(first.id)
    assert not await endpoints.delete_endpoint(first.id)
    assert await endpoints.get_endpoint(first.id) is None
    await endpoints.delete_endpoint(second.id)
