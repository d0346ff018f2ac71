"""Each namespace's custom search attributes: add, remove, list, and the `Schema` queries use.

The store keeps the attributes and the column each one was given (and caches them);
a change also drops the namespace's cached description, which shows them as
`custom_search_attribute_aliases`.
"""

from __future__ import annotations

from temporalio.api.common.v1 import SearchAttributes

from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import Namespaces
from clepsydra.store.base import Store
from clepsydra.visibility.attributes import COLUMN_TYPES, PREDEFINED, SYSTEM, AttrType, Schema, TooMany
from clepsydra.visibility.validation import InvalidSearchAttributes, validate


class SearchAttributeRegistry:
    def __init__(self, store: Store, namespaces: Namespaces) -> None:
        self._store = store
        self._namespaces = namespaces

    async def schema(self, namespace_id: str) -> Schema:
        columns = await self._store.custom_search_attributes(namespace_id)
        return Schema({column: name for name, column in columns.items()})

    async def custom(self, namespace: str) -> dict[str, AttrType]:
        namespace_id = await self._namespaces.id_of(namespace)
        return {name: a.type for name, a in (await self.schema(namespace_id)).custom.items()}

    async def add(self, namespace: str, wanted: dict[str, int]) -> None:
        """Register attributes (name → IndexedValueType); names that exist are left alone."""
        if not wanted:
            raise InvalidArgument("SearchAttributes are not set on request.")
        namespace_id = await self._namespaces.id_of(namespace)
        types: dict[str, AttrType] = {}
        for name, indexed_type in wanted.items():
            if name in SYSTEM or name in PREDEFINED:
                raise InvalidArgument(f"Search attribute {name} is reserved by system.")
            try:
                type_ = AttrType.from_indexed_value_type(indexed_type)
            except ValueError:
                raise InvalidArgument(f"Unknown search attribute type: {indexed_type}.") from None
            if type_ is None:
                raise InvalidArgument(
                    "Unable to create search attributes: cannot have more than 0 search attribute of "
                    "type Unspecified."
                )
            types[name] = type_
        try:
            await self._store.add_custom_search_attributes(namespace_id, types)
        except TooMany as error:
            raise InvalidArgument(str(error)) from None
        self._namespaces.forget(namespace)

    async def add_by_type_name(self, namespace: str, attributes: dict[str, str]) -> None:
        """Register attributes by type name ("Keyword", "Int", ...), as at start-up."""
        if not attributes:
            return
        by_name = {t.value.lower(): t for t in AttrType}
        wanted = {}
        for name, type_name in attributes.items():
            type_ = by_name.get(type_name.lower())
            if type_ is None:
                raise InvalidArgument(f"unknown search attribute type {type_name!r} for {name}")
            wanted[name] = int(type_.indexed_value_type)
        await self.add(namespace, wanted)

    async def remove(self, namespace: str, names: list[str]) -> None:
        namespace_id = await self._namespaces.id_of(namespace)
        reserved = [n for n in names if n in SYSTEM or n in PREDEFINED]
        if reserved:
            raise InvalidArgument(f"Unable to remove non-custom search attributes: {', '.join(reserved)}.")
        await self._store.remove_custom_search_attributes(namespace_id, names)
        self._namespaces.forget(namespace)

    async def validate(self, namespace: str, namespace_id: str, attributes: SearchAttributes) -> None:
        """INVALID_ARGUMENT unless every attribute is known and its value fits its type."""
        if not attributes.indexed_fields:
            return
        try:
            validate(await self.schema(namespace_id), namespace, attributes)
        except InvalidSearchAttributes as error:
            raise InvalidArgument(str(error)) from None


def storage_columns() -> dict[str, AttrType]:
    """Every custom column, as GetSearchAttributes reports them next to the system attributes."""
    return dict(COLUMN_TYPES)
