"""Check search attributes a workflow sets (at start, by upsert), with the reference's messages.

Pure: the caller passes the namespace's `Schema` (see registry.SearchAttributeRegistry).
"""

from __future__ import annotations

from temporalio.api.common.v1 import SearchAttributes

from clepsydra.visibility import values
from clepsydra.visibility.attributes import SYSTEM, Schema


class InvalidSearchAttributes(ValueError):
    """The message is what the client sees (INVALID_ARGUMENT, or the workflow task failure cause)."""


def validate(schema: Schema, namespace: str, attributes: SearchAttributes) -> None:
    fields = attributes.indexed_fields
    if len(fields) > values.MAX_KEYS:
        raise InvalidSearchAttributes(
            f"number of search attributes {len(fields)} exceeds limit {values.MAX_KEYS}"
        )
    total = 0
    for name, payload in fields.items():
        if name in SYSTEM:
            raise InvalidSearchAttributes(f"{name} attribute can't be set in SearchAttributes")
        attribute = schema.settable(name)
        if attribute is None:
            raise InvalidSearchAttributes(
                f"Namespace {namespace} has no mapping defined for search attribute {name}"
            )
        try:
            value = values.decode(payload)
            if value is not None:
                values.check(attribute.type, value)
        except values.InvalidValue as error:
            raise InvalidSearchAttributes(
                f"invalid value for search attribute {name} of type {attribute.type.value}: {error}"
            ) from None
        size = len(payload.data)
        if size > values.MAX_VALUE_BYTES:
            raise InvalidSearchAttributes(
                f"search attribute {name} value size {size} exceeds size limit {values.MAX_VALUE_BYTES}"
            )
        total += payload.ByteSize() + len(name)
    if total > values.MAX_TOTAL_BYTES:
        raise InvalidSearchAttributes(
            f"total size of search attributes {total} exceeds size limit {values.MAX_TOTAL_BYTES}"
        )
