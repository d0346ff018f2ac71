"""Task tokens: opaque to workers, they name the execution, the task and its attempt."""

from __future__ import annotations

import json
from dataclasses import dataclass

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument

_JSON = json.JSONEncoder(separators=(",", ":"))


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
        if not data:
            raise InvalidArgument("Task token not set on request.")
        try:
            fields = json.loads(data)
            token = cls(**fields)
            if not isinstance(token.scheduled_event_id, int) or not isinstance(token.attempt, int):
                raise TypeError("bad field types")
            return token
        except (ValueError, TypeError):
            raise InvalidArgument("Error deserializing task token.") from None
