"""The context an RPC implementation gets when it is called over HTTP.

The implementations are written against `grpc.aio.ServicerContext`; they use little of it
(`time_remaining()` for long polls, `abort()` to fail). This gives them the same surface for an
HTTP request: the deadline comes from grpc-gateway's `Grpc-Timeout` header, if any.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import grpc
from google.rpc import status_pb2

from clepsydra.http.status import RpcStatus

_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def parse_grpc_timeout(value: str | None) -> float | None:
    """Seconds in a `Grpc-Timeout` value such as `30S` or `500m`; None when absent or malformed."""
    match = re.fullmatch(r"(\d{1,8})([HMSmun])", (value or "").strip())
    return int(match.group(1)) * _TIMEOUT_UNITS[match.group(2)] if match else None


class HttpContext:
    def __init__(self, headers: Sequence[tuple[str, str]], peer: str, timeout: float | None) -> None:
        self._headers = tuple(headers)
        self._peer = peer
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._code: grpc.StatusCode | None = None
        self._details = ""

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._headers

    def peer(self) -> str:
        return self._peer

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass  # HTTP answers carry no trailers

    def cancelled(self) -> bool:
        return False

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()) -> NoReturn:
        status = RpcStatus(code, details)
        for key, value in trailing_metadata or ():
            if key == "grpc-status-details-bin":  # typed details, as grpc_handlers.abort sends them
                status.details = list(status_pb2.Status.FromString(value).details)
        raise status

    def failure(self) -> RpcStatus | None:
        """A status the implementation set without aborting (gRPC's set_code), if any."""
        if self._code is None or self._code == grpc.StatusCode.OK:
            return None
        return RpcStatus(self._code, self._details)
