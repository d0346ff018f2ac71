"""Executions that a client names by an id of their own kind, not a workflow id (standalone
activities, standalone Nexus operations): finding the run a request names, reading it, and
long polls on it. Each kind keeps its prefix, its check of the state and the reference's
messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.errors import InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore

T = TypeVar("T")


@dataclass(frozen=True)
class OwnExecutions:
    core: HistoryCore
    prefix: str  # of the workflow ids of their executions
    check: Callable[[ExecutionState], Any]  # raises NotFound for a state not of this kind
    not_found: Callable[[str], NotFound]  # for an id
    id_required: str  # the messages of a request without an id, or with a run id not a UUID
    bad_run_id: str

    async def resolve(self, namespace_id: str, own_id: str, run_id: str) -> ExecutionKey:
        """The run a request names, or the id's newest run."""
        if not own_id:
            raise InvalidArgument(self.id_required)
        workflow_id = self.prefix + own_id
        if run_id:
            try:
                uuid.UUID(run_id)
            except ValueError:
                raise InvalidArgument(self.bad_run_id) from None
            return ExecutionKey(namespace_id, workflow_id, run_id)
        current = await self.core.current(namespace_id, workflow_id)
        if current is None:
            raise self.not_found(own_id)
        return ExecutionKey(namespace_id, workflow_id, current.run_id)

    async def read(self, key: ExecutionKey, view: Callable[[ExecutionState], T]) -> T:
        try:
            async with self.core.read(key) as state:
                self.check(state)
                return view(state)
        except NotFound:
            raise self.not_found(key.workflow_id.removeprefix(self.prefix)) from None

    async def wait_until(
        self, key: ExecutionKey, view: Callable[[ExecutionState], T], done: Callable[[T], bool], wait: float
    ) -> T:
        """`view` of the execution once `done` holds of it, or when `wait` seconds are up."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            seen = await self.read(key, view)
            remaining = deadline - asyncio.get_running_loop().time()
            if done(seen) or remaining <= 0:
                return seen
            await self.core.wait(key, remaining)
