"""Protobuf messages to and from JSON as the reference's HTTP API writes and reads them.

Standard protojson (`google.protobuf.json_format`) does the work; on top of it, walking the
message alongside its JSON form, we add what Temporal's own codec does: payload shorthand
(see `payloads.py`), short enum names in requests (`"AllowDuplicate"` for
`WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE`, any case, underscores optional), map entries
sorted by key and numbers in Go's format, and unknown fields rejected with their name.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from functools import cache
from typing import Any

from google.protobuf import json_format, symbol_database
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from clepsydra.http import gojson, payloads

ANY = "google.protobuf.Any"
WELL_KNOWN_PREFIX = "google.protobuf."


class BadJson(ValueError):
    """A request body or parameter that does not fit the request message."""


# The stubs type the C (upb) backend's descriptors apart from `descriptor.Descriptor` and its
# kin, and allow None for a field's message and enum type; these narrow where that cannot be.


def descriptor_of(message: Message) -> Descriptor:
    descriptor = message.DESCRIPTOR
    assert isinstance(descriptor, Descriptor)  # upb's descriptors are instances too
    return descriptor


def message_type_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a field of type TYPE_MESSAGE."""
    assert field.message_type is not None
    return field.message_type


def enum_type_of(field: FieldDescriptor) -> EnumDescriptor:
    """The enum type of a field of type TYPE_ENUM."""
    assert field.enum_type is not None
    return field.enum_type


# -- out --------------------------------------------------------------------------------------

_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)


def to_json(message: Message, shorthand: bool) -> str:
    writer = _Writer(shorthand)
    data = writer.convert(message, json_format.MessageToDict(message))
    return writer.dumps(data)


def _map_key(key: Any) -> str:
    return ("true" if key else "false") if isinstance(key, bool) else str(key)


class _Writer:
    """Adjusts `MessageToDict`'s output, then writes it with the C JSON encoder.

    What must be written as is (payload values, numbers in Go's format) goes into the
    dict as a token string with a random nonce, which no string of the message can
    forge, and the tokens are replaced in the encoded text.
    """

    def __init__(self, shorthand: bool) -> None:
        self.shorthand = shorthand
        self._nonce = secrets.token_hex(8)
        self._raw: list[str] = []

    def raw(self, text: str) -> str:
        self._raw.append(text)
        return f"\0{self._nonce}:{len(self._raw) - 1}\0"

    def dumps(self, data: Any) -> str:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if not self._raw:
            return text
        token = re.compile(rf'"\\u0000{self._nonce}:(\d+)\\u0000"')
        return token.sub(lambda m: self._raw[int(m.group(1))], text)

    def _number(self, value: Any) -> Any:
        return self.raw(gojson.number(value)) if isinstance(value, float) and math.isfinite(value) else value

    def _value(self, value: Any) -> Any:
        return self.raw(value) if isinstance(value, gojson.Raw) else value

    def adjust(self, message: Message, data: dict[str, Any]) -> None:
        for field, value in message.ListFields():
            key = field.json_name
            if field.is_extension or key not in data:
                continue
            if _is_map(field):
                entries = sorted(value.items())  # Go's protojson writes map entries in key order
                value_field = message_type_of(field).fields_by_name["value"]
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    data[key] = {_map_key(k): self.convert(v, data[key][_map_key(k)]) for k, v in entries}
                else:
                    data[key] = {_map_key(k): self._number(data[key][_map_key(k)]) for k, _ in entries}
            elif field.type in _FLOATS:  # Go writes 2.0 as 2
                data[key] = (
                    [self._number(v) for v in data[key]] if is_repeated(field) else self._number(data[key])
                )
            elif field.type != FieldDescriptor.TYPE_MESSAGE:
                continue
            elif is_repeated(field):
                data[key] = [self.convert(v, d) for v, d in zip(value, data[key], strict=True)]
            else:
                data[key] = self.convert(value, data[key])

    def convert(self, message: Message, data: Any) -> Any:
        name = message.DESCRIPTOR.full_name
        if self.shorthand and name == payloads.PAYLOADS:
            return [self._value(v) for v in payloads.payloads_out(message, data)]
        if self.shorthand and name == payloads.PAYLOAD:
            assert isinstance(message, Payload)
            return self._value(payloads.payload_out(message, data))
        if name == ANY:
            inner = _unpack(message)
            if inner is not None and not inner.DESCRIPTOR.full_name.startswith(WELL_KNOWN_PREFIX):
                self.adjust(inner, data)  # its fields sit next to "@type"
            return data
        if not name.startswith(WELL_KNOWN_PREFIX):
            self.adjust(message, data)
        return data


def _unpack(any_message: Any) -> Message | None:
    try:
        cls = symbol_database.Default().GetSymbol(any_message.TypeName())
    except KeyError:
        return None
    inner = cls()
    any_message.Unpack(inner)
    return inner


def is_repeated(field: FieldDescriptor) -> bool:
    # `label` is gone from protobuf 7; `is_repeated` is missing from older releases.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)  # type: ignore[attr-defined]


def _is_map(field: FieldDescriptor) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and message_type_of(field).GetOptions().map_entry
        and is_repeated(field)
    )


# -- in ---------------------------------------------------------------------------------------


def parse(data: Any, message: Message, shorthand: bool = True) -> None:
    """Fill `message` from a JSON value (as `json.loads` gives it)."""
    if not isinstance(data, dict):
        raise BadJson(f"expected a JSON object for {message.DESCRIPTOR.full_name}")
    normalized = _normalize(descriptor_of(message), data, shorthand)
    try:
        json_format.ParseDict(normalized, message)
    except json_format.ParseError as error:
        raise BadJson(str(error).split("\n", 1)[0]) from None


@cache
def fields_by_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields under both names protojson accepts: lowerCamel and proto name."""
    fields = {}
    for field in descriptor.fields:
        fields[field.name] = field
        fields[field.json_name] = field
    return fields


def _normalize(descriptor: Descriptor, data: dict[str, Any], shorthand: bool) -> dict[str, Any]:
    fields = fields_by_key(descriptor)
    out = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            raise BadJson(f'unknown field "{key}"')
        out[key] = _normalize_field(field, value, shorthand)
    return out


def _normalize_field(field: FieldDescriptor, value: Any, shorthand: bool) -> Any:
    if _is_map(field):
        value_field = message_type_of(field).fields_by_name["value"]
        if isinstance(value, dict):
            return {k: _normalize_value(value_field, v, shorthand) for k, v in value.items()}
        return value
    if is_repeated(field) and isinstance(value, list):
        return [_normalize_value(field, item, shorthand) for item in value]
    return _normalize_value(field, value, shorthand)


def _normalize_value(field: FieldDescriptor, value: Any, shorthand: bool) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_value(enum_type_of(field), value) if isinstance(value, str) else value
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return value
    name = message_type_of(field).full_name
    if shorthand and name == payloads.PAYLOADS:
        return payloads.payloads_in(value)
    if shorthand and name == payloads.PAYLOAD:
        return payloads.payload_in(value)
    if name.startswith(WELL_KNOWN_PREFIX) or not isinstance(value, dict):
        return value  # well-known types (and Any) have JSON forms of their own
    return _normalize(message_type_of(field), value, shorthand)


def _screaming_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


@cache
def _short_enum_names(enum: EnumDescriptor) -> dict[str, str]:
    prefix = _screaming_snake(enum.name) + "_"
    names = {}
    for value in enum.values:
        short = value.name.removeprefix(prefix)
        names[short.replace("_", "").lower()] = value.name
    return names


def enum_value(enum: EnumDescriptor, text: str) -> str:
    """The value name for a full name or a short one ("AllowDuplicate", "allow_duplicate")."""
    if text in enum.values_by_name:
        return text
    return _short_enum_names(enum).get(text.replace("_", "").lower(), text)
