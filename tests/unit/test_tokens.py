"""Task tokens: what goes out with a task comes back as the same token, and nothing else
opens: not a token changed by a byte, nor one sealed with another secret."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.tokens import QueryToken, TaskToken, Tokens, TokenTarget
from clepsydra.store.sqlite import SqliteStore

MALFORMED = re.escape("Error deserializing task token.")
NOT_SET = re.escape("Task token not set on request.")

TOKEN = TaskToken("namespace", "workflow \u00e9", "run", 7, 3, "activity")


@dataclass
class Request:
    task_token: bytes
    # None named: the token's own namespace (no namespace lookup).
    namespace: str = ""


def tokens(secret: bytes = b"s" * 32) -> Tokens:
    return Tokens(secret, Namespaces(SqliteStore(None)))


async def test_a_token_opens_to_itself() -> None:
    sealed = tokens().seal(TOKEN)
    assert await tokens().task(Request(sealed)) == TOKEN
    query = QueryToken("q", "host:1", "namespace", "workflow")
    assert await tokens().query(Request(tokens().seal(query))) == query
    assert TokenTarget.of(sealed) == TokenTarget("namespace", "workflow \u00e9")


@pytest.mark.parametrize(
    "data",
    [
        tokens(b"t" * 32).seal(TOKEN),  # another server's
        tokens().seal(TOKEN)[:-16],  # the fields alone
        tokens().seal(TOKEN)[1:],
        b"x" * 16,
        b"x",
        tokens().seal(QueryToken("q", "p", "n", "w")),  # a query's token where a task's goes
    ],
)
async def test_what_this_server_did_not_seal_does_not_open(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match=MALFORMED):
        await tokens().task(Request(data))


@pytest.mark.parametrize(
    "fields",
    [
        {**TOKEN.fields(), "workflow_id": 5},
        {**TOKEN.fields(), "attempt": "1"},
        {**TOKEN.fields(), "attempt": True},
        {**TOKEN.fields(), "activity_id": None},
        {"namespace_id": "n"},
        [1, 2],
    ],
)
async def test_sealed_fields_of_the_wrong_type_are_refused(fields: object) -> None:
    t = tokens()
    payload = json.dumps(fields).encode()
    with pytest.raises(InvalidArgument, match=MALFORMED):
        await t.task(Request(payload + t._mac(payload)))


async def test_an_empty_token_is_not_set() -> None:
    with pytest.raises(InvalidArgument, match=NOT_SET):
        await tokens().task(Request(b""))
    with pytest.raises(InvalidArgument, match=NOT_SET):
        TokenTarget.of(b"")
