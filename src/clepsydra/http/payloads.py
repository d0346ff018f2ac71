"""Temporal's payload shorthand: a `json/plain` payload written as the JSON value it holds.

The rules follow the reference's HTTP API (checked against it):

- out: a `Payloads` is a JSON array; each payload whose only metadata is `encoding: json/plain`
  (and whose data is JSON) is its value, a `json/protobuf` one with a `messageType` is its
  object plus a `_protoMessageType` key, anything else (`binary/null` included) its full form;
- in: a `Payloads` may be an array; a payload is taken in full form only when it is an object
  with exactly the keys `metadata` and `data` that parses as a Payload; `null` is a
  `binary/null` payload, an object with `_protoMessageType` a `json/protobuf` one, and any
  other value a `json/plain` payload of its Go-encoded JSON.

The shorthand holds for Payload and Payloads fields at any depth. A `json/plain` payload whose
data is not JSON is shown in full form (the reference fails the whole request instead).
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from clepsydra.http import gojson

PAYLOAD = Payload.DESCRIPTOR.full_name
PAYLOADS = "temporal.api.common.v1.Payloads"
MESSAGE_TYPE_KEY = "_protoMessageType"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encoded(encoding: str, data: bytes | None, **metadata: str) -> dict[str, Any]:
    meta = {"encoding": _b64(encoding.encode())} | {k: _b64(v.encode()) for k, v in metadata.items()}
    return {"metadata": meta} if data is None else {"metadata": meta, "data": _b64(data)}


# -- out --------------------------------------------------------------------------------------


def payload_out(payload: Payload, full: Any) -> Any:
    """The shorthand of one payload, or `full` (its standard JSON form) when it has none."""
    encoding = payload.metadata.get("encoding", b"")
    try:
        if encoding == b"json/plain" and len(payload.metadata) == 1:
            return gojson.Raw(gojson.dumps(gojson.loads(payload.data)))
        message_type = payload.metadata.get("messageType", b"").decode()
        if encoding == b"json/protobuf" and message_type and len(payload.metadata) == 2:
            value = gojson.loads(payload.data)
            if isinstance(value, dict):
                return gojson.Raw(gojson.dumps(value | {MESSAGE_TYPE_KEY: message_type}))
    except (ValueError, RecursionError):  # not JSON (or not UTF-8, or too deep): shown as it is
        pass
    return full


def payloads_out(payloads: Any, full: dict[str, Any]) -> list[Any]:
    items = full.get("payloads", [])
    return [payload_out(p, item) for p, item in zip(payloads.payloads, items, strict=True)]


# -- in ---------------------------------------------------------------------------------------


def payload_in(value: Any) -> dict[str, Any]:
    """The standard JSON form of a payload given in full or in shorthand."""
    if isinstance(value, dict) and set(value) == {"metadata", "data"}:
        try:
            json_format.ParseDict(value, Payload())
            return value
        except (json_format.ParseError, TypeError, ValueError):
            pass  # not a payload after all: a JSON object that happens to look like one
    if value is None:
        return _encoded("binary/null", None)
    if isinstance(value, dict) and isinstance(value.get(MESSAGE_TYPE_KEY), str):
        rest = {k: v for k, v in value.items() if k != MESSAGE_TYPE_KEY}
        data = _utf8(gojson.dumps(rest, html_escape=True))
        return _encoded("json/protobuf", data, messageType=value[MESSAGE_TYPE_KEY])
    return _encoded("json/plain", _utf8(gojson.dumps(value, html_escape=True)))


def _utf8(text: str) -> bytes:
    """UTF-8, with the lone surrogates a JSON escape can make (`"\\ud800"`) read as U+FFFD,
    as Go's JSON decoder reads them."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def payloads_in(value: Any) -> Any:
    """The standard JSON form of a Payloads given as an array, or as `{"payloads": [...]}`."""
    if isinstance(value, list):
        return {"payloads": [payload_in(item) for item in value]}
    if isinstance(value, dict) and isinstance(value.get("payloads"), list):
        return value | {"payloads": [payload_in(item) for item in value["payloads"]]}
    return value
