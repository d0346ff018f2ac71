"""Task tokens: opaque to workers, they name the execution, the task and its attempt.

Query task tokens name the query instead, and the process where its client waits. Both
name the workflow, so that any process can route a response to the workflow's owner
(`TokenTarget`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument

_JSON = json.JSONEncoder(separators=(",", ":"))


def _fields(data: bytes) -> dict[str, Any]:
    if not data:
        raise InvalidArgument("Task token not set on request.")
    try:
        fields = json.loads(data)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise InvalidArgument("Error deserializing task token.")
    return fields


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

    def encode(self) -> bytes:
        # The fields by hand: dataclasses.asdict deep-copies, and a token goes out with every task.
        fields = {
            "namespace_id": self.namespace_id,
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "scheduled_event_id": self.scheduled_event_id,
            "attempt": self.attempt,
            "activity_id": self.activity_id,
        }
        return _JSON.encode(fields).encode()

    @classmethod
    def decode(cls, data: bytes) -> TaskToken:
        try:
            token = cls(**_fields(data))
            if not isinstance(token.scheduled_event_id, int) or not isinstance(token.attempt, int):
                raise TypeError("bad field types")
            return token
        except TypeError:
            raise InvalidArgument("Error deserializing task token.") from None


@dataclass(frozen=True)
class QueryToken:
    query_id: str
    # The process where the query's client waits: the answer must go there.
    process: str
    namespace_id: str
    workflow_id: str

    def encode(self) -> bytes:
        fields = {
            "query": self.query_id,
            "process": self.process,
            "namespace_id": self.namespace_id,
            "workflow_id": self.workflow_id,
        }
        return _JSON.encode(fields).encode()

    @classmethod
    def decode(cls, data: bytes) -> QueryToken:
        fields = _fields(data)
        try:
            return cls(
                str(fields["query"]),
                str(fields.get("process", "")),
                str(fields.get("namespace_id", "")),
                str(fields.get("workflow_id", "")),
            )
        except KeyError:
            raise InvalidArgument("Error deserializing task token.") from None


@dataclass(frozen=True)
class TokenTarget:
    """The workflow a task token or query task token names, and the process to serve it
    (empty: whichever owns the workflow)."""

    namespace_id: str
    workflow_id: str
    process: str = ""

    @classmethod
    def of(cls, data: bytes) -> TokenTarget:
        fields = _fields(data)
        try:
            return cls(
                str(fields["namespace_id"]), str(fields["workflow_id"]), str(fields.get("process", ""))
            )
        except KeyError:
            raise InvalidArgument("Error deserializing task token.") from None
