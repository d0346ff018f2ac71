"""Serialization of the engine's dataclasses to compact JSON.

Mutable state is stored as one blob per execution. Protobuf fields are kept as
their wire bytes (base64), times as microseconds since the epoch, so the blob is
exact and independent of Python's pickling.

Every commit serializes the whole state, so the work is planned once per type: the
first use of a dataclass compiles an encoder (a generated function that reads each
field and converts it as its declared type says) and a decoder, instead of asking
every value what it is on every call.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

T = TypeVar("T")
R = TypeVar("R")
Convert = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JSON = json.JSONEncoder(separators=(",", ":"))
_PLAIN = (bool, int, float, str, type(None), typing.Any, object)


def _per_type(function: Callable[[Any], R]) -> Callable[[Any], R]:
    """`functools.cache` for a function of a type: its typed wrapper wants `Hashable` arguments,
    which mypy does not consider a `type[X]` to be."""
    return cache(function)


def to_micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def timestamp(value: datetime) -> Timestamp:
    """`Timestamp.FromDatetime`, several times faster (it goes through a time tuple); naive is UTC."""
    micros = to_micros(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return Timestamp(seconds=micros // 1_000_000, nanos=micros % 1_000_000 * 1000)


def _timedelta_micros(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _message_text(value: Message) -> str:
    return binascii.b2a_base64(value.SerializeToString(), newline=False).decode("ascii")


def dumps(value: Any) -> bytes:
    return _JSON.encode(_encoder(type(value))(value)).encode()


def loads(tp: type[T], data: bytes) -> T:
    return typing.cast(T, _decoder(tp)(json.loads(data)))


# -- encoding ---------------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


@_per_type
def _encoder(tp: Any) -> Convert:
    """A function from a value of type `tp` to plain JSON data."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            return _encode_any
        encode = _encoder(inner[0])
        return encode if encode is _identity else lambda v: None if v is None else encode(v)
    if origin is dict:
        encode_key, encode_value = (_encoder(a) for a in typing.get_args(tp))
        return lambda v: [[encode_key(k), encode_value(x)] for k, x in v.items()]
    if origin in (list, set, tuple):
        args = typing.get_args(tp)
        encode = _encoder(args[0]) if args else _encode_any
        return lambda v: [encode(x) for x in v]
    if tp in _PLAIN or (isinstance(tp, type) and issubclass(tp, enum.Enum | bool | int | float | str)):
        return _identity
    if tp is datetime:
        return to_micros
    if tp is timedelta:
        return _timedelta_micros
    if isinstance(tp, type) and issubclass(tp, Message):
        return _message_text
    if dataclasses.is_dataclass(tp):
        return _dataclass_encoder(tp)
    return _encode_any


def _dataclass_encoder(tp: Any) -> Convert:
    """Generate `def encode(v): return {"field": convert(v.field), ...}` for a dataclass."""
    hints = _hints(tp)
    scope: dict[str, Any] = {}
    items = []
    for i, f in enumerate(dataclasses.fields(tp)):
        encode = _encoder(hints[f.name])
        if encode is _identity:
            items.append(f"{f.name!r}: v.{f.name}")
        else:
            scope[f"e{i}"] = encode
            items.append(f"{f.name!r}: e{i}(v.{f.name})")
    source = "def encode(v):\n    return {" + ", ".join(items) + "}\n"
    exec(source, scope)
    return typing.cast(Convert, scope["encode"])


def _encode_any(value: Any) -> Any:
    """Values whose declared type says too little (a union, Any): converted by what they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, timedelta):
        return _timedelta_micros(value)
    if isinstance(value, Message):
        return _message_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encoder(type(value))(value)
    if isinstance(value, dict):
        return [[_encode_any(k), _encode_any(v)] for k, v in value.items()]
    if isinstance(value, list | tuple | set):
        return [_encode_any(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


# -- decoding ---------------------------------------------------------------------------------


def _nullable(decode: Convert) -> Convert:
    return lambda raw: None if raw is None else decode(raw)


@_per_type
def _decoder(tp: Any) -> Convert:
    """A function from plain JSON data back to a value of type `tp` (None stays None)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decoder(inner[0])
    if origin is dict:
        decode_key, decode_value = (_decoder(a) for a in typing.get_args(tp))
        return _nullable(lambda raw: {decode_key(k): decode_value(v) for k, v in raw})
    if origin in (list, set):
        (item_tp,) = typing.get_args(tp)
        decode = _decoder(item_tp)
        return _nullable(lambda raw: origin(decode(v) for v in raw))
    if tp is datetime:
        return _nullable(from_micros)
    if tp is timedelta:
        return _nullable(lambda raw: timedelta(microseconds=raw))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _nullable(tp)
    if isinstance(tp, type) and issubclass(tp, Message):
        return _nullable(lambda raw: tp.FromString(binascii.a2b_base64(raw)))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        decoders = {name: _decoder(hint) for name, hint in _hints(tp).items()}

        def decode(raw: dict[str, Any]) -> Any:
            # Fields missing from an older blob take their defaults; unknown ones are dropped.
            return tp(**{name: decoders[name](v) for name, v in raw.items() if name in decoders})

        return _nullable(decode)
    return _identity


@_per_type
def _hints(tp: type) -> dict[str, Any]:
    return typing.get_type_hints(tp)
