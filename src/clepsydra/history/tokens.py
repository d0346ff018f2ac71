"""Task tokens: opaque to workers, they name the execution, the task and its attempt."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import InvalidArgument


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
        return json.dumps(asdict(self), separators=(",", ":")).encode()

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
