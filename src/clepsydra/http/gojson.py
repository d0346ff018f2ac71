"""JSON text as Go's encoders write it, so that payload shorthand reads and writes the bytes the
reference server does.

Go decodes a JSON value into `any` (every number a float64) and encodes it back with sorted
object keys and ES6-style numbers (`1.0` → `1`, `1e2` → `100`, large integers rounded to
float64). `encoding/json` also escapes `<`, `>` and `&` (HTML safety); the reference does so
when it stores a payload's data, not when it shows one.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class NotGoJson(ValueError):
    """Not a JSON text Go would accept (e.g. NaN or Infinity)."""


def _reject_constant(name: str) -> Any:
    raise NotGoJson(f"{name} is not JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON the way Go's `json.Unmarshal` into `any` does: every number a float."""
    return json.loads(text, parse_int=float, parse_constant=_reject_constant)


def number(value: float) -> str:
    """A float64 as Go's JSON encoders write it (ES6 number-to-string)."""
    if not math.isfinite(value):
        raise NotGoJson(f"{value} is not JSON")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    shortest = repr(value)  # the shortest digits that round-trip, as Go's strconv picks
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(shortest), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, _, exponent = format(Decimal(shortest), "e").partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


class Raw(str):
    """JSON text, to be written out as it is."""


def dumps(value: Any, html_escape: bool = False) -> str:
    """Compact JSON as Go writes an `any`: sorted keys, every number a float64."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return number(float(value))
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        if html_escape:
            for char, escaped in _HTML_ESCAPES.items():
                text = text.replace(char, escaped)
        return text
    if isinstance(value, list):
        return "[" + ",".join(dumps(item, html_escape) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{dumps(k, html_escape)}:{dumps(value[k], html_escape)}" for k in sorted(value))
            + "}"
        )
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
