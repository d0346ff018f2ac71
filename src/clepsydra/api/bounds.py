"""Durations and times in requests, brought within what the server can compute with.

The reference server reads every `google.protobuf.Duration` of a request as at most 100
years (a run timeout, a retention or a timer of a thousand years is stored and shown as
100 years), so Clepsydra does the same, once, before any handler sees the request: then
no deadline computed from a request lies beyond the calendar. A `google.protobuf.Timestamp`
outside the years 1 to 9999 names no time at all and is refused; nanoseconds out of range
carry into the seconds, as the reference reads them.

Which fields of which messages can hold a duration or a time is worked out once per
message type from the descriptors, so a request that holds none (most of them: polls,
reads, signals) costs nothing, and the others are walked along those fields only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from clepsydra.errors import InvalidArgument

DURATION = "google.protobuf.Duration"
TIMESTAMP = "google.protobuf.Timestamp"
MAX_DURATION_SECONDS = 100 * 365 * 24 * 3600
NANOS = 1_000_000_000
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
MIN_TIME_SECONDS = -62135596800
MAX_TIME_SECONDS = 253402300799

# Message full name → the fields of it that hold (or lead to) durations or times, as
# (field name, how it holds them: SINGLE, REPEATED or MAP values).
SINGLE, REPEATED, MAP = range(3)
_relevant: dict[str, list[tuple[str, int]]] = {}
_leads: dict[str, bool] = {}


def _targets(descriptor: Any) -> list[tuple[str, int, Any]]:
    """(field name, how it holds, the message type it holds) for the message fields of a
    message type (for a map: its values' type)."""
    targets = []
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        target, kind = field.message_type, REPEATED if field.is_repeated else SINGLE
        if target.GetOptions().map_entry:
            target, kind = target.fields_by_name["value"].message_type, MAP
        if target is not None:
            targets.append((field.name, kind, target))
    return targets


def _leads_to_bounds(descriptor: Any) -> bool:
    """Whether a message of this type can hold a duration or a time, however deep (message
    types may contain themselves, as a failure's cause does: the search is of the graph)."""
    name = descriptor.full_name
    if name not in _leads:
        seen, frontier = {name}, [descriptor]
        found = name in (DURATION, TIMESTAMP)
        while frontier and not found:
            for _, _, target in _targets(frontier.pop()):
                if target.full_name in (DURATION, TIMESTAMP):
                    found = True
                elif target.full_name not in seen:
                    seen.add(target.full_name)
                    frontier.append(target)
        _leads[name] = found
    return _leads[name]


def _fields_of(descriptor: Any) -> list[tuple[str, int]]:
    fields = _relevant.get(descriptor.full_name)
    if fields is None:
        fields = [(name, kind) for name, kind, target in _targets(descriptor) if _leads_to_bounds(target)]
        _relevant[descriptor.full_name] = fields
    return fields


def has_bounds(descriptor: Descriptor) -> bool:
    return bool(_fields_of(descriptor))


def bound(message: Message) -> None:
    """Clamp the durations of `message` to 100 years and check its times, in place."""
    for name, kind in _fields_of(message.DESCRIPTOR):
        value = getattr(message, name)
        if kind == MAP:
            values = list(value.values())
        elif kind == REPEATED:
            values = list(value)
        elif message.HasField(name):
            values = [value]
        else:
            continue
        for item in values:
            type_name = item.DESCRIPTOR.full_name
            if type_name == DURATION:
                _bound_duration(item)
            elif type_name == TIMESTAMP:
                _check_time(item, name)
            else:
                bound(item)


def _bound_duration(duration: Any) -> None:
    seconds = duration.seconds + duration.nanos // NANOS if abs(duration.nanos) >= NANOS else duration.seconds
    if seconds > MAX_DURATION_SECONDS:
        duration.seconds, duration.nanos = MAX_DURATION_SECONDS, 0
    elif seconds < -MAX_DURATION_SECONDS:
        duration.seconds, duration.nanos = -MAX_DURATION_SECONDS, 0
    elif seconds != duration.seconds:
        duration.seconds, duration.nanos = seconds, duration.nanos % NANOS


def _check_time(timestamp: Any, name: str) -> None:
    seconds = timestamp.seconds + timestamp.nanos // NANOS
    if not MIN_TIME_SECONDS <= seconds <= MAX_TIME_SECONDS:
        raise InvalidArgument(f"{name} is not a valid time: it is outside the years 1 to 9999.")
    if not 0 <= timestamp.nanos < NANOS:
        timestamp.seconds, timestamp.nanos = seconds, timestamp.nanos % NANOS


def bounded(descriptor: Descriptor, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`handler`, given requests of `descriptor` with their durations and times in bounds."""
    if not has_bounds(descriptor):
        return handler

    async def serve(request: Any, context: Any) -> Any:
        bound(request)
        return await handler(request, context)

    serve.__name__ = getattr(handler, "__name__", "serve")
    return serve
