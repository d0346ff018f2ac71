"""Search attribute values: payloads in, typed column values out, with the reference's checks.

A search attribute travels as a `json/plain` payload. For the visibility table each
value becomes the column value of its type: Keyword as text, Int as integer, Double
as real, Bool as 0/1, Datetime as microseconds since the epoch, KeywordList as a JSON
array, and Text as its words (see `tokenize`), because Text matches whole words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import Payload

from clepsydra.visibility.attributes import AttrType

MAX_VALUE_BYTES = 2 * 1024
MAX_TOTAL_BYTES = 40 * 1024
MAX_KEYS = 100
_NULL_ENCODING = b"binary/null"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidValue(ValueError):
    """A value that does not fit its search attribute's type."""


def decode(payload: Payload) -> Any:
    """The JSON value of a payload; None for a null payload (an unset attribute)."""
    encoding = payload.metadata.get("encoding", b"")
    if encoding == _NULL_ENCODING:
        return None
    if encoding != b"json/plain":
        raise InvalidValue(go_format(list(payload.data)))
    try:
        return json.loads(payload.data)
    except (ValueError, RecursionError):
        raise InvalidValue(f"value from <data:{payload.data!r}>") from None


def go_format(value: Any) -> str:
    """Format a value as the reference's messages do (Go's %v)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    return str(value)


def check(type_: AttrType, value: Any) -> None:
    """Raise InvalidValue if a decoded JSON value is not one of the type."""
    if not _fits(type_, value):
        raise InvalidValue(go_format(value))


def _fits(type_: AttrType, value: Any) -> bool:
    if type_ in (AttrType.KEYWORD, AttrType.TEXT):
        return isinstance(value, str)
    if type_ is AttrType.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ is AttrType.DOUBLE:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_ is AttrType.BOOL:
        return isinstance(value, bool)
    if type_ is AttrType.DATETIME:
        return isinstance(value, str) and parse_datetime(value) is not None
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def column_value(type_: AttrType, value: Any) -> Any:
    """What the visibility table stores for a valid, non-null value."""
    if type_ is AttrType.TEXT:
        return word_string(value)
    if type_ is AttrType.BOOL:
        return 1 if value else 0
    if type_ is AttrType.DOUBLE:
        return float(value)
    if type_ is AttrType.DATETIME:
        return parse_datetime(value)
    if type_ is AttrType.KEYWORD_LIST:
        return json.dumps(value) if value else None  # an empty list is no value, as in the reference
    return value


# -- Text --------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Words as SQLite's unicode61 tokenizer (the reference's) sees them: runs of letters
    and digits, case-folded, without diacritics."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain)


def word_string(text: str) -> str:
    """The stored form of a Text value: its words between spaces, so that a phrase is a substring."""
    return " " + " ".join(tokenize(text)) + " "


# -- times and durations ---------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_datetime(text: str) -> int | None:
    """RFC 3339 (as Go's time.RFC3339Nano parses it) to microseconds since the epoch."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, tz_hours, tz_minutes = match.groups()[6:]
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    if not zulu:
        offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
        moment -= offset if sign == "+" else -offset
    micros = (fraction or "").ljust(6, "0")[:6]
    return to_micros(moment) + int(micros)


def to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}
_CLOCK = re.compile(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def parse_duration(text: str) -> int | None:
    """A duration in nanoseconds: Go syntax ("1h30m", "1.5s"), days ("2d") or "HH:MM:SS"."""
    clock = _CLOCK.fullmatch(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return int((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1e9)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_NANOS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(body):
        return None
    return sign * int(total)
