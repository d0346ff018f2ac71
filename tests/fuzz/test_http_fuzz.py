"""Every route of the HTTP API (derived from the `google.api.http` annotations, as the server
derives them), with requests generated from the API's descriptors and with arbitrary JSON:
never a 500, and the server goes on serving.

Bodies are the generated request in the proto JSON mapping when it has one (a duration or a
time beyond what JSON can spell has none: then an arbitrary JSON value goes instead), with
lone surrogates and nesting past any parser's depth now and then. Path variables are filled
from the request's own fields, so that requests name the namespace and workflow that exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2

from clepsydra.http.routes import Route, routes_for
from tests.fuzz.strategies import messages
from tests.server_process import ServerProcess, free_port

ROUTES = [
    route
    for service in (
        workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"],
        operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"],
    )
    for route in routes_for(service)
    if route.path.startswith("/api/v1/")
]
EXAMPLES = int(os.environ.get("CLEPSYDRA_FUZZ_EXAMPLES", "0"))
DEADLINE = 0.5  # long polls are cut short: what they answer in time is checked
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
ODD_BODIES = [b'{"namespace": "\\ud800"}', b"[" * 100_000, b'{"a": ' * 5000, b"\xff\xfe", b"null", b"1e999"]


@pytest.fixture(scope="module")
def http_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("http-fuzz")
    port = free_port()
    server = ServerProcess(work / "fuzz.db", work / "server.log", "--http-port", str(port))
    asyncio.run(server.start())
    yield f"http://127.0.0.1:{port}"
    assert server.proc is not None and server.proc.poll() is None, "the server died"
    server.stop()


def _value_of(message: Message, field_path: str) -> str:
    value: Any = message
    for name in field_path.split("."):
        value = getattr(value, name, "")
    return str(value) or "x"


def _path(route: Route, message: Message) -> str:
    """The route's template with its variables filled from the request's fields."""
    parts = []
    segments = route.template.segments
    starts = {v.start: v for v in route.template.variables}
    covered = {
        i for v in route.template.variables for i in range(v.start, len(segments) if v.end == -1 else v.end)
    }
    for index, segment in enumerate(segments):
        if index in starts:
            parts.append(quote(_value_of(message, starts[index].field_path), safe=""))
        elif index not in covered:
            parts.append(segment.literal or "x")
    path = "/" + "/".join(parts)
    return f"{path}:{route.template.verb}" if route.template.verb else path


def _body(message: Message, fallback: Any) -> bytes:
    try:
        return json_format.MessageToJson(message).encode()
    except (ValueError, TypeError, json_format.Error):  # a value the JSON mapping cannot spell
        return json.dumps(fallback).encode()


def _settings() -> settings:
    return settings(
        max_examples=EXAMPLES or 15,
        derandomize=not EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.http_method} {r.path}")
def test_no_route_answers_500(route: Route, http_base: str) -> None:
    with httpx.Client(base_url=http_base, timeout=DEADLINE + 5) as client:

        @_settings()
        @given(messages(route.method.input_type), JSON, st.sampled_from([None, *ODD_BODIES]))
        def check(request: Message, fallback: Any, odd: bytes | None) -> None:
            body = (odd or _body(request, fallback)) if route.body == "*" else None
            try:
                response = client.request(
                    route.http_method,
                    _path(route, request),
                    content=body,
                    headers={"content-type": "application/json", "x-request-id": str(uuid.uuid4())},
                    timeout=DEADLINE,
                )
            except httpx.TimeoutException:
                return  # a long poll, waiting as it should
            assert response.status_code < 500 or response.status_code in (501, 503), (
                f"{route.http_method} {route.path}: {response.status_code} {response.text[:300]}"
            )

        check()
