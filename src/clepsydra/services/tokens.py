"""Task tokens: opaque to workers, they name the execution, the task and its attempt.

Query task tokens name the query instead, and the process where its client waits. Both
name the workflow, so that any process can route a response to the workflow's owner
(`TokenTarget`).

A token is its fields as JSON followed by an HMAC-SHA256 of them (truncated to 16 bytes)
under the server's secret, which the store keeps (`Store.token_secret`), so that the
tokens of a server stay valid across its restarts and among the processes that share a
database. Nobody can make a token from the public fields of a workflow, and a token is
bound to its namespace: a request that names another namespace is refused, as the
reference server refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument
from clepsydra.services.namespaces import Namespaces

_JSON = json.JSONEncoder(separators=(",", ":"))
MAC_SIZE = 16
NOT_SET = "Task token not set on request."
MALFORMED = "Error deserializing task token."
OTHER_NAMESPACE = "Operation requested with a token from a different namespace."


class TokenRequest(Protocol):
    """A request that carries a task token: it names the namespace it means, or none."""

    @property
    def namespace(self) -> str: ...
    @property
    def task_token(self) -> bytes: ...


@dataclass(frozen=True)
class TaskToken:
    namespace_id: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    attempt: int
    activity_id: str = ""

    @property
    def key(self) -> ExecutionKey:
        return ExecutionKey(self.namespace_id, self.workflow_id, self.run_id)

    def fields(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, and a token goes out with every task.
        return {
            "namespace_id": self.namespace_id,
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "scheduled_event_id": self.scheduled_event_id,
            "attempt": self.attempt,
            "activity_id": self.activity_id,
        }

    @classmethod
    def of(cls, fields: dict[str, Any]) -> TaskToken:
        namespace_id, workflow_id, run_id = _strings(fields, "namespace_id", "workflow_id", "run_id")
        scheduled_event_id, attempt = _numbers(fields, "scheduled_event_id", "attempt")
        (activity_id,) = _strings({"activity_id": "", **fields}, "activity_id")
        return cls(namespace_id, workflow_id, run_id, scheduled_event_id, attempt, activity_id)


@dataclass(frozen=True)
class QueryToken:
    query_id: str
    # The process where the query's client waits: the answer must go there.
    process: str
    namespace_id: str
    workflow_id: str

    def fields(self) -> dict[str, Any]:
        return {
            "query": self.query_id,
            "process": self.process,
            "namespace_id": self.namespace_id,
            "workflow_id": self.workflow_id,
        }

    @classmethod
    def of(cls, fields: dict[str, Any]) -> QueryToken:
        return cls(*_strings(fields, "query", "process", "namespace_id", "workflow_id"))


class Tokens:
    """Seals the tokens this server hands out, and opens those that come back."""

    def __init__(self, secret: bytes, namespaces: Namespaces) -> None:
        if len(secret) < 16:
            raise ValueError("a task token secret has at least 16 bytes")
        self._secret = secret
        self.namespaces = namespaces

    def seal(self, token: TaskToken | QueryToken) -> bytes:
        payload = _JSON.encode(token.fields()).encode()
        return payload + self._mac(payload)

    async def task(self, request: TokenRequest) -> TaskToken:
        """The task token of `request`, if this server made it for the namespace it names."""
        fields = self._open(request.task_token)
        if "query" in fields:
            raise InvalidArgument(MALFORMED)
        token = TaskToken.of(fields)
        await self._check_namespace(request.namespace, token.namespace_id)
        return token

    async def query(self, request: TokenRequest) -> QueryToken:
        """The query task token of `request`, if this server made it for its namespace."""
        token = QueryToken.of(self._open(request.task_token))
        await self._check_namespace(request.namespace, token.namespace_id)
        return token

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:MAC_SIZE]

    def _open(self, data: bytes) -> dict[str, Any]:
        if not data:
            raise InvalidArgument(NOT_SET)
        payload, mac = data[:-MAC_SIZE], data[-MAC_SIZE:]
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidArgument(MALFORMED)
        return _payload(payload)

    async def _check_namespace(self, name: str, namespace_id: str) -> None:
        """A request may leave the namespace out (the token's is meant); a namespace that
        does not exist is NOT_FOUND, and another one is refused."""
        if name and await self.namespaces.id_of(name) != namespace_id:
            raise InvalidArgument(OTHER_NAMESPACE)


@dataclass(frozen=True)
class TokenTarget:
    """The workflow a task token or query task token names, and the process to serve it
    (empty: whichever owns the workflow). Read without checking the token's seal: it only
    routes the request to the process that checks it."""

    namespace_id: str
    workflow_id: str
    process: str = ""

    @classmethod
    def of(cls, data: bytes) -> TokenTarget:
        if not data:
            raise InvalidArgument(NOT_SET)
        fields = _payload(data[:-MAC_SIZE])
        namespace_id, workflow_id, process = _strings(
            {"process": "", **fields}, "namespace_id", "workflow_id", "process"
        )
        return cls(namespace_id, workflow_id, process)


def _payload(data: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(data)
    except (ValueError, RecursionError):
        fields = None
    if not isinstance(fields, dict):
        raise InvalidArgument(MALFORMED)
    return fields


def _strings(fields: dict[str, Any], *names: str) -> list[str]:
    """The named fields, which must be strings (a token's fields are never anything else)."""
    values = [fields.get(name) for name in names]
    return [value if isinstance(value, str) else _malformed() for value in values]


def _numbers(fields: dict[str, Any], *names: str) -> list[int]:
    values = [fields.get(name) for name in names]
    return [
        value if isinstance(value, int) and not isinstance(value, bool) else _malformed() for value in values
    ]


def _malformed() -> NoReturn:
    raise InvalidArgument(MALFORMED)
