"""Serialization of the engine's dataclasses to compact JSON.

Mutable state is stored as one blob per execution. Protobuf fields are kept as
their wire bytes (base64), times as microseconds since the epoch, so the blob is
exact and independent of Python's pickling.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import types
import typing
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from google.protobuf.message import Message

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    if isinstance(value, Message):
        return base64.b64encode(value.SerializeToString()).decode()
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return [[_encode(k), _encode(v)] for k, v in value.items()]
    if isinstance(value, list | tuple | set):
        return [_encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode(tp: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], raw)
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        return {_decode(key_tp, k): _decode(value_tp, v) for k, v in raw}
    if origin in (list, set):
        (item_tp,) = typing.get_args(tp)
        return origin(_decode(item_tp, v) for v in raw)
    if tp is datetime:
        return from_micros(raw)
    if tp is timedelta:
        return timedelta(microseconds=raw)
    if isinstance(tp, type) and issubclass(tp, Message):
        message = tp()
        message.ParseFromString(base64.b64decode(raw))
        return message
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{name: _decode(hints[name], value) for name, value in raw.items() if name in hints})
    return raw


@cache
def _hints(tp: type) -> dict[str, Any]:
    return typing.get_type_hints(tp)


def dumps(value: Any) -> bytes:
    return json.dumps(_encode(value), separators=(",", ":")).encode()


def loads(tp: type[T], data: bytes) -> T:
    return typing.cast(T, _decode(tp, json.loads(data)))
