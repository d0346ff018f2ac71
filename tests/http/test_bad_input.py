"""Bodies and parameters that no client should send get a 4xx answer, never a 500: lone
surrogates (read as U+FFFD in payloads, as Go's JSON decoder reads them, and refused in
string fields), JSON nested deeper than a parser goes, bytes that are not UTF-8, and
durations and times beyond the calendar."""

from __future__ import annotations

import uuid

import httpx
import pytest

BASE = "/api/v1/namespaces/default"
NESTED = b"[" * 100_000 + b"]" * 100_000


def _start(body: bytes) -> tuple[str, str, bytes]:
    return ("POST", f"{BASE}/workflows/bad-input-{uuid.uuid4()}", body)


START = b'{"workflowType":{"name":"x"},"taskQueue":{"name":"q"}'
CASES = {
    "lone surrogate in a string field": _start(
        b'{"workflowType":{"name":"\\ud800"},"taskQueue":{"name":"q"}}'
    ),
    "deep array": _start(b'{"workflowType":' + NESTED + b"}"),
    "deep object in a memo": _start(
        START + b',"memo":{"fields":{"a":' + b'{"x":' * 5000 + b"1" + b"}" * 5000 + b"}}}"
    ),
    "deep payload": _start(START + b',"input":[' + NESTED + b"]}"),
    "not UTF-8": _start(b'{"workflowType":{"name":"\xff"},"taskQueue":{"name":"q"}}'),
    "a duration beyond any calendar": _start(START + b',"workflowRunTimeout":"999999999999999999s"}'),
    "a retention beyond any calendar": (
        "POST",
        "/api/v1/namespaces",
        b'{"namespace":"bad-input","workflowExecutionRetentionPeriod":"99999999999999s"}',
    ),
    "a list filter in year 10000": (
        "GET",
        f"{BASE}/workflows?query=StartTime%3E%2710000-01-01T00:00:00Z%27",
        b"",
    ),
    "a deeply nested list filter": ("GET", f"{BASE}/workflows?query=" + "(" * 5000, b""),
    "a page token of deep JSON": ("GET", f"{BASE}/workflows?nextPageToken=" + "W1tb" * 2000, b""),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_bad_input_is_a_client_error(http_client: httpx.AsyncClient, case: str) -> None:
    method, path, body = CASES[case]
    response = await http_client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] in (3, 5)


async def test_a_lone_surrogate_in_a_payload_reads_as_a_replacement_character(
    http_client: httpx.AsyncClient,
) -> None:
    workflow_id = f"surrogate-{uuid.uuid4()}"
    started = await http_client.post(
        f"{BASE}/workflows/{workflow_id}",
        content=START + b',"input":["a\\ud800b"]}',
        headers={"content-type": "application/json"},
    )
    assert started.status_code == 200, started.text
    history = await http_client.get(f"{BASE}/workflows/{workflow_id}/history")
    attributes = history.json()["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
    assert attributes["input"] == ["a\ufffdb"]
