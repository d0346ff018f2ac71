"""Hypothesis strategies for any request of the API, built from its protobuf descriptors.

Every field gets values of its type, biased towards what breaks servers: the ends of
integer ranges, unknown enum numbers, durations and times far beyond any calendar, empty
and odd strings, and, by field name, the values that make a request reach deep code (the
namespace and workflow that exist, list filters, cron strings, page tokens).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

MAX_DEPTH = 3
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# Beyond the valid range of a google.protobuf.Duration or Timestamp, and just inside it.
SECONDS = [0, 1, -1, 59, 86400, 10**10, 253402300800, 315576000000, -315576000000, 2**62, -(2**62)]
NANOS = [0, 1, 999_999_999, -999_999_999, 10**9, -(10**9), 2**31 - 1]

NAMESPACES = ["default", "fuzz", "", "no-such-namespace", "temporal-system"]
WORKFLOW_IDS = ["fuzz-workflow", "", "no-such-workflow", "temporal-sys-scheduler:fuzz"]
QUERIES = [
    "",
    "WorkflowId = 'fuzz-workflow'",
    "StartTime > '10000-01-01T00:00:00Z'",
    "StartTime < '0000-01-01T00:00:00Z'",
    "CloseTime between '2020-01-01' and '99999-01-01'",
    "ExecutionDuration > '100000000000000h'",
    "ExecutionStatus = 'Nope'",
    "WorkflowType = 'x' order by StartTime desc",
    "CustomKeywordField = 'x'",
    "TemporalNamespaceDivision is null",
    "(((((((((((((((((((((((((((((((((((WorkflowId = 'a')))))))))))))))))))))))))))))))))))",
    "WorkflowId = '" + "\\" * 5 + "'",
    "StartTime = 99999999999999999999999999",
    "HistoryLength > 9223372036854775808",
]
CRONS = ["", "* * * * *", "0 0 30 2 *", "0 0 31 4 *", "@every 0s", "@every 100000000h", "61 * * * *", "junk"]
PAGE_TOKENS = [
    b"",
    b"{}",
    b"[" * 5000 + b"]" * 5000,
    b'{"offset": -1}',
    b'{"after": [1e400, 2, "x"]}',
    b"\xff",
]
TEXT = st.one_of(
    st.sampled_from(["", " ", "x" * 300, "\u0000", "\U0001f600", "a%2Fb", "../.."]), st.text(max_size=12)
)

# Fields that most requests need to get anywhere: always set, so that requests reach past
# their first check.
REQUIRED = {
    "namespace", "workflow_id", "task_queue", "workflow_type", "request_id", "schedule_id",
    "schedule", "spec", "action", "start_workflow", "signal_name", "update_id", "workflow_execution",
    "execution", "request", "name", "meta", "input", "workflow_execution_retention_period", "identity",
}  # fmt: skip

_by_name: dict[str, st.SearchStrategy[Any]] = {
    "namespace": st.sampled_from(["default"] * 4 + NAMESPACES),
    "workflow_id": st.sampled_from(WORKFLOW_IDS) | TEXT,
    "query": st.sampled_from(QUERIES),
    "cron_schedule": st.sampled_from(CRONS),
    "next_page_token": st.sampled_from(PAGE_TOKENS),
    "task_token": st.sampled_from([b"", b"x", b"[" * 5000, b'{"namespace_id": 1}' + bytes(16)])
    | st.binary(max_size=40),
}


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    return st.one_of(st.sampled_from([0, 1, -1, low, high]), st.integers(low, high))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if field.name in _by_name:
        return _by_name[field.name]
    if t == FieldDescriptor.TYPE_STRING:
        return TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=24)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(
            allow_nan=True, allow_infinity=True, width=32 if t == FieldDescriptor.TYPE_FLOAT else 64
        )
    if t == FieldDescriptor.TYPE_ENUM:
        numbers = [value.number for value in field.enum_type.values]
        return st.sampled_from([*numbers, 999, -1])
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return _integers(INT32)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return _integers((0, 2**32 - 1))
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _integers((0, 2**64 - 1))
    return _integers(INT64)


def _time_like(cls: type[Message]) -> st.SearchStrategy[Message]:
    return st.builds(
        cls, seconds=st.sampled_from(SECONDS) | st.integers(-(10**12), 10**12), nanos=st.sampled_from(NANOS)
    )


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`: any subset of its fields set, nested messages to MAX_DEPTH."""
    cls = GetMessageClass(descriptor)
    if descriptor.full_name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
        return _time_like(cls)
    if descriptor.full_name.startswith("google.protobuf.") or depth > MAX_DEPTH:
        return st.just(cls())
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        strategy = _field(field, depth)
        if strategy is not None:
            (required if field.name in REQUIRED else optional)[field.name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(_builder(cls))


def _field(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        entry = field.message_type
        if entry.GetOptions().map_entry:
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            value_strategy = _field(value, depth + 1)
            if value_strategy is None:
                return None
            return st.dictionaries(_scalar(key), value_strategy, max_size=3)
        if depth + 1 > MAX_DEPTH and not entry.full_name.startswith("google.protobuf."):
            return None
        single = messages(entry, depth + 1)
    else:
        single = _scalar(field)
    if field.is_repeated:
        return st.lists(single, max_size=3)
    return single


def _builder(cls: type[Message]) -> Callable[[dict[str, Any]], Message]:
    def build(values: dict[str, Any]) -> Message:
        message = cls()
        for name, value in values.items():
            # Skips a value the field cannot hold (e.g. a float out of a float's range).
            with contextlib.suppress(ValueError, TypeError):
                message.MergeFrom(cls(**{name: value}))
        return message

    return build
