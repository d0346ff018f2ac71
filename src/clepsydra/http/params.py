"""Request fields from the URL: path variables and query parameters, as grpc-gateway reads them.

A query parameter names a field by its dotted path, each part in lowerCamel or proto name
(`execution.runId`, `execution.run_id`); a repeated field takes the parameter repeatedly;
enums take names (short ones too) or numbers. Parameters that name no field are ignored, as
are those naming a field bound by the path (the path wins).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from clepsydra.http.protojson import (
    WELL_KNOWN_PREFIX,
    BadJson,
    descriptor_of,
    enum_type_of,
    enum_value,
    fields_by_key,
    is_repeated,
    message_type_of,
)

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
# Well-known types with a JSON string form (or a wrapped scalar) that a parameter can carry.
_WRAPPERS = {
    "google.protobuf.BoolValue": FieldDescriptor.TYPE_BOOL,
    "google.protobuf.StringValue": FieldDescriptor.TYPE_STRING,
    "google.protobuf.BytesValue": FieldDescriptor.TYPE_BYTES,
    "google.protobuf.Int32Value": FieldDescriptor.TYPE_INT32,
    "google.protobuf.Int64Value": FieldDescriptor.TYPE_INT64,
    "google.protobuf.UInt32Value": FieldDescriptor.TYPE_UINT32,
    "google.protobuf.UInt64Value": FieldDescriptor.TYPE_UINT64,
    "google.protobuf.FloatValue": FieldDescriptor.TYPE_FLOAT,
    "google.protobuf.DoubleValue": FieldDescriptor.TYPE_DOUBLE,
}
_STRING_FORMS = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}


def _scalar(field_type: int, field: FieldDescriptor, text: str) -> Any:
    """The JSON value protojson expects for one parameter value."""
    if field_type == FieldDescriptor.TYPE_BOOL:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise BadJson(f"invalid value {text!r} for boolean field {field.name}")
    if field_type == FieldDescriptor.TYPE_ENUM:
        if text.lstrip("-").isdigit():
            return int(text)
        return enum_value(enum_type_of(field), text)
    return text  # protojson takes numbers, bytes (base64) and strings as strings


def _value(field: FieldDescriptor, text: str) -> Any:
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return _scalar(field.type, field, text)
    name = message_type_of(field).full_name
    if name in _WRAPPERS:
        return _scalar(_WRAPPERS[name], field, text)
    if name in _STRING_FORMS:
        return text
    if name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise BadJson(f"invalid JSON value for field {field.name}") from None
    raise BadJson(f"field {field.name} of type {name} cannot be set from a query parameter")


def _resolve(descriptor: Descriptor | None, dotted: str) -> list[FieldDescriptor] | None:
    """The fields along a dotted parameter name, or None when it names no field."""
    path = []
    for part in dotted.split("."):
        if descriptor is None:
            return None
        field = fields_by_key(descriptor).get(part)
        if field is None:
            return None
        path.append(field)
        message_type = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
        is_leaf_message = message_type is not None and message_type.full_name.startswith(WELL_KNOWN_PREFIX)
        descriptor = None if message_type is None or is_leaf_message else message_type
    return path


def query_to_json(descriptor: Descriptor, params: list[tuple[str, str]], bound: set[str]) -> dict[str, Any]:
    """The JSON object (for `protojson.parse`) that the query parameters describe."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for name, text in params:
        path = _resolve(descriptor, name)
        if path is None or ".".join(f.name for f in path) in bound:
            continue
        leaf = path[-1]
        if leaf.type == FieldDescriptor.TYPE_MESSAGE and message_type_of(leaf).GetOptions().map_entry:
            continue  # maps have no query form here
        node = out
        for field in path[:-1]:
            node = node.setdefault(field.json_name, {})
        key = ".".join(f.name for f in path)
        if is_repeated(leaf):
            node.setdefault(leaf.json_name, []).append(_value(leaf, text))
        elif key in seen:
            raise BadJson(f"too many values for field {key}")
        else:
            seen.add(key)
            node[leaf.json_name] = _value(leaf, text)
    return out


def set_path_field(message: Message, dotted: str, text: str) -> None:
    """Set the field a path variable names (`execution.workflow_id`) to the segment's value."""
    *parents, leaf_name = dotted.split(".")
    target = message
    for name in parents:
        target = getattr(target, name)
    leaf = descriptor_of(target).fields_by_name[leaf_name]
    value = _scalar(leaf.type, leaf, text)
    try:
        if leaf.type == FieldDescriptor.TYPE_ENUM and isinstance(value, str):
            value = enum_type_of(leaf).values_by_name[value].number
        elif leaf.type in (FieldDescriptor.TYPE_BYTES,):
            value = text.encode()
        elif leaf.cpp_type in (
            FieldDescriptor.CPPTYPE_INT32,
            FieldDescriptor.CPPTYPE_INT64,
            FieldDescriptor.CPPTYPE_UINT32,
            FieldDescriptor.CPPTYPE_UINT64,
        ):
            value = int(text)
        elif leaf.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
            value = float(text)
        setattr(target, leaf_name, value)
    except (KeyError, ValueError, TypeError):
        raise BadJson(f"invalid value {text!r} for field {dotted}") from None
