"""Namespace rows: created once, found by name, renamed, deleted with their attributes."""

from __future__ import annotations

from typing import Any

from clepsydra.store.base import NamespaceRecord
from clepsydra.visibility.attributes import AttrType


async def test_a_namespace_is_created_once_per_id_and_per_name(store: Any) -> None:
    assert await store.create_namespace(NamespaceRecord("id-1", "orders", b"one"))
    assert not await store.create_namespace(NamespaceRecord("id-1", "other", b"two"))
    assert not await store.create_namespace(NamespaceRecord("id-2", "orders", b"three"))
    assert await store.get_namespace("orders") == NamespaceRecord("id-1", "orders", b"one")
    assert await store.get_namespace("other") is None


async def test_namespaces_are_listed_by_name(store: Any) -> None:
    for id_, name in [("1", "b"), ("2", "B"), ("3", "a"), ("4", "default")]:
        await store.create_namespace(NamespaceRecord(id_, name, b""))
    assert [n.name for n in await store.list_namespaces()] == ["B", "a", "b", "default"]


async def test_a_namespace_can_be_renamed_and_changed(store: Any) -> None:
    await store.create_namespace(NamespaceRecord("id-1", "orders", b"one"))
    await store.update_namespace(NamespaceRecord("id-1", "orders-deleted-x", b"two"))
    assert await store.get_namespace("orders") is None
    assert await store.get_namespace("orders-deleted-x") == NamespaceRecord(
        "id-1", "orders-deleted-x", b"two"
    )


async def test_deleting_a_namespace_deletes_its_search_attributes(store: Any) -> None:
    await store.create_namespace(NamespaceRecord("id-1", "orders", b""))
    await store.add_custom_search_attributes("id-1", {"Customer": AttrType.KEYWORD})
    await store.delete_namespace("id-1")
    assert await store.list_namespaces() == []
    assert await store.custom_search_attributes("id-1") == {}
